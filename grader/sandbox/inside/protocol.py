"""What the trusted side and the sandbox say to each other: the one definition both sides import.

Channels:
- the control socket (a SOCK_SEQPACKET, fd GRADER_CONTROL_FD in the sandbox) between the trusted
  side and the zygote: READY once warm; then per world the world's settings (JSON, see Settings) with
  the world's channel passed as a file descriptor; STOP when the world must end, answered with
  {"done": ENDING, "restart": bool} once nothing of the world is left; QUIT ends the sandbox;
- a world's channel (a SOCK_STREAM with codec's length-prefixed JSON messages), between the trusted
  side and the world.

A world's life on its channel: the world's first process sends the single byte HELLO (the kernel
attaches who sent it: SCM_CREDENTIALS), the trusted side puts that process in the world's resource
container and answers {"contained": bool}; everything the world does from then on is counted there.
The trusted side sends Op.FILES ({"op", "files", "bytecode"}), the first process answers
{"ok": true} and forks the world's pid 1, which runs the student's code. Then:
- {"op": Op.RUN, "source", "python"?, "quiet"?, "plots"?} -> a cell's outputs as plain data
  ({"stdout", "stderr", "result", "figures", "error", "python", "rendered in"}), or, quiet,
  {"ok", "failed"};
- {"op": Op.RESOLVE, "name"} -> {"kind": "value"|"function"|"missing", "value"?};
- {"op": Op.TEST} -> {"serving": true}, then the test cell's requests: Op.RESOLVE, and
  {"op": Op.CALL, "name", "args", "substitute"} -> {"result"|"error", "warnings", "changed"} ("changed":
  the arrays among the arguments the function changed in place, by position); while a call runs,
  the world may ask {"callback": id, "args"} (a trusted reference) and the trusted side may ask
  {"op": Op.INVOKE, "id", "args"} (a function the student's code passed) in return.

What the world says about itself is data to check, never a verdict: how a world ended comes from
the zygote's wait status (ENDING) and the world's resource container, both outside the world.
"""

from __future__ import annotations

import os
import re
import signal

# Folders inside the sandbox.
INSIDE_CODE = "/opt/grader-sandbox"  # this folder, read-only
SCRATCH = os.environ.get("GRADER_SCRATCH", "/scratch")  # the working folder (elsewhere without bubblewrap)
SUPPORT = "/opt/grader-support"  # the instructor's files: read-only, first on sys.path
HOLD = "/opt/grader-hold"  # where read-only folders below a writable one wait while it is replaced
DEVICES = ("null", "zero", "full", "random", "urandom")  # what a world's own /dev holds
FILES = 16384  # files (inodes) in each of a world's folders

# The sandbox's environment, set by the trusted side.
ENV_CONTROL_FD = "GRADER_CONTROL_FD"
ENV_ISOLATED = "GRADER_ISOLATED"  # "1" inside bubblewrap: every world gets namespaces of its own
ENV_SCRATCH = "GRADER_SCRATCH"
ENV_KEEP = "GRADER_KEEP"  # read-only folders below a writable one, bound again in each world
ENV_WORLD_FILTER = "GRADER_WORLD_FILTER"  # the world's seccomp program (base64), "" without libseccomp
ISOLATED = os.environ.get(ENV_ISOLATED) == "1"

# The control socket.
READY, STOP, QUIT = b"ready", b"stop", b"quit"
HELLO = b"h"  # a world's pid 1, before the student's code runs: the kernel says who sent it

INBOUND_BYTES = 1 << 30  # the largest message the sandbox accepts from the trusted side


class Op:
    """The requests the trusted side sends to a world."""

    FILES = "files"
    RUN = "run"
    RESOLVE = "resolve"
    TEST = "test"
    CALL = "call"
    INVOKE = "invoke"


# The world's settings, sent with every world (zygote.Limits.sandbox_settings): its rlimits, the size of
# each fresh tmpfs, and the output limits.
SETTINGS = ("rlimits", "tmpfs_bytes", "text", "figure_bytes", "figures")

ENDING = re.compile(r"(exited with code -?\d{1,4}|killed by signal [A-Z0-9]{2,12}|stopped while running)"
                    r"(: [a-z ()]{1,80})?")


def describe_status(status: int) -> str:
    """How a process ended, from its wait status (the zygote's waitpid): what ENDING matches."""
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"
