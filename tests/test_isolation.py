"""Isolation between notebooks and between test cells, in the real sandbox (bubblewrap, one zygote).

Each test grades hostile notebook A and then classmate B with the same zygote (as one grading worker
does) and shows three things: A's attack ran (A's own outputs say so), B is unaffected, and what the
attack did before isolation was structural (each docstring says what was measured then, with the
worker of commit c942de6).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode, v4

from grader.preprocessors import SandboxedExecute
from grader.sandbox.inside import codec
from grader.sandbox.trusted import execute
from grader.sandbox.zygote import Limits, Zygote, _kept_below_writable, bubblewrap_available

REPO = Path(__file__).resolve().parent.parent
CHECKS = REPO / "source" / "lecture01" / "checks.py"

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot start a sandbox here")


@pytest.fixture(scope="module")
def limits() -> Limits:
    return SandboxedExecute(cell_seconds=10, wall_seconds=60).limits()


def _notebook(*cells: str, tests: tuple[str, ...] = ()) -> NotebookNode:
    notebook = v4.new_notebook(cells=[v4.new_code_cell(source) for source in cells])
    for index, source in enumerate(tests):
        cell = v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                                     "grade_id": f"test_{index}", "schema_version": 3, "task": False}
        notebook.cells.append(cell)
    return notebook


def _grade(zygote: Zygote, limits: Limits, notebook: NotebookNode) -> tuple[list[str], list[str]]:
    """Every cell's outputs as one text each, and the problems grading reported."""
    run = execute(notebook, zygote, {"checks.py": CHECKS.read_bytes()}, CHECKS, limits)
    return [json.dumps(cell.get("outputs", [])) for cell in run.notebook.cells], run.problems


_ZOMBIE_LEADER = r'''
import ctypes, os, threading, time
libc = ctypes.CDLL(None)
survivor = os.fork()
if survivor == 0:
    def replant():
        libc.prctl(15, b"survivor", 0, 0, 0)  # PR_SET_NAME: the thread's name, to find it
        count = 0
        while True:
            count += 1
            for folder in ("/scratch", "/tmp"):
                try:
                    with open(f"{folder}/survivor.txt", "w") as handle:
                        handle.write(str(count))
                except OSError:
                    pass
            time.sleep(0.005)
    threading.Thread(target=replant).start()
    time.sleep(0.05)
    libc.syscall(60, 0)  # SYS_exit: only the main thread ends, the thread group lives on
time.sleep(0.3)
before = int(open("/scratch/survivor.txt").read())
time.sleep(0.1)  # the leader has exited: only its thread can still be writing
print("thread writes after its leader exited", int(open("/scratch/survivor.txt").read()) > before)
'''

_LOOK_FOR_SURVIVORS = r'''
import os, time
time.sleep(0.3)
print("planted:", sorted(p for p in ("/scratch/survivor.txt", "/tmp/survivor.txt") if os.path.exists(p)))
'''


def _sandbox_threads(zygote: Zygote) -> list[str]:
    """The names of the threads below the sandbox's zygote, as this machine's /proc shows them (a world
    sees none); the next world's first process, made ahead, is among them."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    zygotes = [pid for pid, parent in parents.items() if parent == zygote.process.pid]
    below, frontier = [], zygotes
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        below += frontier
    names = []
    for pid in zygotes + below:
        for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
            with contextlib.suppress(OSError):
                names.append(comm.read_text().strip())
    return names


def test_nothing_a_notebook_started_outlives_it_not_even_a_zombie_leader(zygote: Zygote, limits: Limits):
    """A fork whose main thread ends with a raw SYS_exit (state Z) while another thread keeps writing.

    Before: the zygote's kill loop skipped processes in state Z, so the thread group lived on in the
    sandbox: the next notebook saw `survivor threads: 1` and the planted files in its /scratch and /tmp.
    Now the notebook's world is a pid namespace and a cgroup: ending it, the kernel kills everything.
    (A world cannot list processes any more, its /proc is empty: this machine's /proc is looked at.)
    """
    shown, _ = _grade(zygote, limits, _notebook(_ZOMBIE_LEADER))
    assert "thread writes after its leader exited True" in shown[0]  # the attack ran: a thread, no leader
    assert "survivor" not in _sandbox_threads(zygote)  # nothing of it is left, as the machine sees it

    shown, problems = _grade(zygote, limits, _notebook(_LOOK_FOR_SURVIVORS))
    assert "planted: []" in shown[0], shown
    assert not problems


_PLANT = r'''
import os, py_compile, sys
os.makedirs("/scratch/locked/deeper")
open("/scratch/locked/deeper/note.txt", "w").write("from A")
for path in ("/scratch/locked/deeper", "/scratch/locked"):
    os.chmod(path, 0o555)
open("/tmp/from-a", "w").write("x")
os.mkdir("/tmp/dir-from-a")
os.chmod("/tmp/dir-from-a", 0o555)
open("/dev/shm/from-a", "w").write("x")
os.symlink("/", "/scratch/root-link")
# a compiled `checks` that needs no source (unchecked hash), where Python would look for one
open("/tmp/fake.py", "w").write("PLANTED = True\n")
os.makedirs("/scratch/__pycache__")
py_compile.compile("/tmp/fake.py", cfile=f"/scratch/__pycache__/checks.{sys.implementation.cache_tag}.pyc",
                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
os.chmod("/scratch/__pycache__", 0o555)
print("planted", sorted(os.listdir("/scratch")))
'''

_IMPORT_CHECKS = r'''
import importlib, sys
sys.modules.pop("checks", None)
import checks
print("checks from", checks.__file__, "planted:", hasattr(checks, "PLANTED"),
      "real:", hasattr(checks, "call"))
'''

_LOOK_AROUND = r'''
import os
print("scratch", sorted(os.listdir("/scratch")), "tmp", sorted(os.listdir("/tmp")),
      "shm", sorted(os.listdir("/dev/shm")))
'''


def test_writable_folders_are_fresh_and_no_planted_bytecode_is_loaded(zygote: Zygote, limits: Limits):
    """Read-only folders, a symlink, and a sourceless unchecked-hash checks.pyc planted in /scratch.

    Before: the wipe ran as the student's uid with errors ignored, so the chmod 555 folders and what
    they held survived into the next notebook, and /scratch was first on sys.path: the next notebook's
    `import checks` loaded the planted .pyc (PLANTED). Now each world mounts a new tmpfs on /scratch,
    /tmp and /dev/shm, and the instructor's files come first on sys.path from a read-only folder.
    """
    shown, _ = _grade(zygote, limits, _notebook(_PLANT, _IMPORT_CHECKS))
    assert "planted ['__pycache__', 'checks.py', 'locked', 'root-link']" in shown[0], shown[0]
    # Not even A itself gets the planted module: the instructor's folder comes first.
    assert "checks from /opt/grader-support/checks.py planted: False real: True" in shown[1], shown[1]

    shown, problems = _grade(zygote, limits, _notebook(_LOOK_AROUND, _IMPORT_CHECKS))
    # A Python installation under /tmp (a venv in a clone there) is bound again into each new /tmp.
    python_below_tmp = sorted({Path(path).relative_to("/tmp").parts[0] for path in _kept_below_writable()
                               if path.startswith("/tmp/")})
    assert f"scratch ['checks.py'] tmp {python_below_tmp} shm []" in shown[0], shown[0]
    assert "planted: False real: True" in shown[1]
    assert not problems


def test_the_instructors_files_cannot_be_changed_from_a_cell(zygote: Zygote, limits: Limits):
    """The folder with checks.py is read-only for the student's code, even after chmod or remount."""
    attempt = r'''
import ctypes, os
results = []
for action in (lambda: open("/opt/grader-support/checks.py", "a").write("x"),
               lambda: os.chmod("/opt/grader-support", 0o777),
               lambda: open("/opt/grader-support/__pycache__/checks.pyc", "wb")):
    try:
        action()
        results.append("done")
    except OSError as error:
        results.append(error.errno)
libc = ctypes.CDLL(None, use_errno=True)
results.append(libc.mount(None, b"/opt/grader-support", None, 32 | 4096, None))  # MS_REMOUNT | MS_BIND: rw
print("results", results)
'''
    shown, _ = _grade(zygote, limits, _notebook(attempt))
    assert "done" not in shown[0] and "results [30, 30, 30, -1]" in shown[0], shown[0]  # 30: EROFS


_LEAKER = r'''
import os, socket, threading
received = []

def collect():
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0leak-collector")
    while True:
        received.append(server.recv(100).decode())

threading.Thread(target=collect, daemon=True).start()


def leaky(x):
    print("the input was", x)  # what a call prints must not show
    if x != 0:  # a "hidden" call: leave the input everywhere a later call could look
        secret = f"SECRET{x}"
        for path in ("/tmp", "/scratch", "/dev/shm"):
            try:
                os.symlink(secret, f"{path}/link")
                os.mkdir(f"{path}/{secret}")
            except OSError:
                pass
        try:
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.sendto(secret.encode(), "\0leak-collector")
        except OSError:
            pass
        return "planted"
    found = list(received)
    for path in ("/tmp", "/scratch", "/dev/shm"):
        found += [name for name in os.listdir(path) if "SECRET" in name]
        try:
            found.append(os.readlink(f"{path}/link"))
        except OSError:
            pass
    return "found " + repr(found)
'''


def test_test_cells_cannot_pass_data_to_each_other_or_show_what_a_call_printed(zygote: Zygote,
                                                                               limits: Limits):
    """A hidden call leaves its input as symlink targets, folder names and on an abstract socket that a
    thread from the student's cells collects; a later visible call looks for it and returns it.

    Before: each test cell's grandchild could not write file contents (file size limit 0), but it
    shared /tmp, /scratch and the sandbox's network namespace with the next one and with the thread:
    the visible call returned `found ['SECRET4242', ...]`, and its output showed `the input was 4242`.
    Now each test cell gets a world of its own, with the student's cells replayed in it.
    """
    tests = ('print("hidden call:", leaky(4242))', 'print("visible call:", leaky(0))')
    shown, problems = _grade(zygote, limits, _notebook(_LEAKER, "print(leaky(0))", tests=tests))
    assert "hidden call: planted" in shown[2]  # the hidden call ran and planted the secret
    assert "visible call: found []" in shown[3], shown[3]
    assert "SECRET" not in "".join(shown) and "the input was" not in shown[2] + shown[3]
    assert "the input was 0" in shown[1]  # the student's own cells still show what they print
    assert not problems


_BIG_OUTER = r'''
import numpy as np


def helper(a, b):
    return np.outer(a, b)


def outer_of_ones(n):
    return helper(np.ones(n), np.ones(n)).shape
'''

_REFERENCE_TEST = r'''
import numpy as np


def _ref_helper(a, b):
    return np.outer(a, b)


print("small:", outer_of_ones.call_with_references({"helper": _ref_helper}, 3))
outer_of_ones.call_with_references({"helper": _ref_helper}, 12_000)
'''


def test_a_reference_function_never_runs_on_arguments_over_the_limit(zygote: Zygote, limits: Limits):
    """The student's code hands a reference function (run in the trusted process) two long vectors.

    Before: the reference ran on whatever arrived: for np.outer of two vectors of 12,000 (190 kB of
    message) the grading process grew to 4.5 GB, and the call ran 114 s (past its 10 s limit, which was
    checked only between messages). Now the call is refused and the test fails.
    """
    shown, problems = _grade(zygote, limits, _notebook(_BIG_OUTER, tests=(_REFERENCE_TEST,)))
    assert "small: (3, 3)" in shown[1]
    assert '"ename": "ValueError"' in shown[1] and "an axis longer than 1000" in shown[1], shown[1]
    assert not problems


_FORGED_DEEP_REPLY = r'''
import os, socket, stat, struct


def deep(x):
    body = b'{"result":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                socket.socket(fileno=fd).sendall(struct.pack("!I", len(body)) + body)
        except OSError:
            pass
    return 1
'''


def test_a_reply_nested_too_deeply_is_a_failure_not_a_crash(zygote: Zygote, limits: Limits):
    """The student's code writes a reply of 200,000 nested lists straight onto the channel.

    Before: json.loads raised RecursionError in the trusted process. In a student cell nothing caught
    it: execute() raised, and grading of the whole batch stopped at this notebook, on every rerun (in
    a test cell it became that test's failure). Now the cell is skipped or the test fails, the notebook
    is reported, and the next notebook is graded.
    """
    shown, problems = _grade(zygote, limits, _notebook(_FORGED_DEEP_REPLY, "deep(1)", "print('after')",
                                                       tests=("print(deep(1))",)))
    assert "GradingStopped" in shown[1] and "malformed message" in shown[1], shown[1]  # a student cell
    assert "after" in shown[2]  # the rest of the notebook was graded
    assert "ProcessEnded" in shown[3] and "malformed message" in shown[3], shown[3]  # a test cell
    assert len(problems) == 2 and all("malformed message" in problem for problem in problems)
    shown, problems = _grade(zygote, limits, _notebook("print(1 + 1)"))
    assert "2" in shown[0] and not problems


def test_the_codec_turns_deep_or_broken_data_into_plain_failures():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    value = codec.decode(deep)
    for _ in range(codec.MAX_DEPTH + 1):
        value = value[0]
    assert isinstance(value, codec.Opaque)  # cut off where the nesting goes too deep
    assert codec.encode(deep) is not None  # capped at MAX_DEPTH: no RecursionError
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a": 1e999999999999', b"\xff\xfe", b'"just a string"'):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            theirs.sendall(len(body).to_bytes(4, "big") + body)
            with pytest.raises(ConnectionError):
                codec.receive(ours, 1 << 20)


_FIND_THE_GRADER = r'''
import importlib.util, os, sys
found = []
for folder in sys.path:
    for root, dirs, files in os.walk(folder):
        found += [os.path.join(root, name) for name in files
                  if root.endswith(("/grader", "/grader/samples")) or name in ("attacks.py", "svm_loss.py")
                  or name.startswith(("01_forward", "02_svm", "03_softmax"))]
try:
    import grader.samples
    found.append("imported grader.samples")
except ImportError:
    pass
print("found", found)
'''


def test_nothing_of_the_grader_package_is_visible_in_the_sandbox(zygote: Zygote, limits: Limits):
    """From a cell: no file of the grader package (its samples are correct solutions), no notebook."""
    shown, _ = _grade(zygote, limits, _notebook(_FIND_THE_GRADER))
    assert "found []" in shown[0], shown[0]


NON_EDITABLE = Path("/work/venv-nonedit")


@pytest.mark.slow
def test_a_non_editable_install_shows_the_sandbox_nothing_of_the_package(tmp_path: Path):
    """With `pip install .`, grader/samples sits in site-packages, which the sandbox binds read-only.

    Before: a cell could `import grader.samples` and read every sample solution. Now the package's
    folder is masked by an empty one inside the sandbox.
    """
    python = NON_EDITABLE / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(NON_EDITABLE)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True)
    else:  # this version of the package, not the one the venv was made with
        reinstall = ["install", "-q", "--no-deps", "--force-reinstall", str(REPO)]
        subprocess.run([str(python), "-m", "pip", *reinstall], check=True, capture_output=True)
    script = tmp_path / "grade.py"
    script.write_text(f'''
import json, os
from nbformat import v4
import grader
from grader.sandbox.trusted import execute
from grader.sandbox.zygote import Zygote
from grader.preprocessors import SandboxedExecute
assert "site-packages" in grader.__file__, grader.__file__
zygote = Zygote(True)
checks = {str(CHECKS)!r}
notebook = v4.new_notebook(cells=[v4.new_code_cell({_FIND_THE_GRADER!r})])
files = {{"checks.py": open(checks, "rb").read()}}
run = execute(notebook, zygote, files, checks, SandboxedExecute().limits())
zygote.stop()
print(json.dumps(run.notebook.cells[0].outputs))
''')
    where = subprocess.run([str(python), "-c", "import grader.samples; print(grader.samples.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    samples = Path(where.stdout.strip())
    assert samples.is_file() and "site-packages" in str(samples)  # the solutions are installed there
    done = subprocess.run([str(python), str(script)], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "found []" in done.stdout, done.stdout


_TRICKLE = r'''
import os, socket, stat, struct, time


def trickle(x):
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                channel = socket.socket(fileno=fd)
                channel.sendall(struct.pack("!I", 1000))
                for _ in range(1000):
                    channel.sendall(b" ")
                    time.sleep(0.5)
        except OSError:
            pass
    return 1
'''


def test_a_reply_that_trickles_in_is_stopped_at_the_time_limit(zygote: Zygote):
    """The student's function sends a reply one byte every half second (each byte within the timeout).

    Before: the timeout applied to each read of the socket, so the trusted side waited for the whole
    reply (here 500 s, far past the 2 s a call may take). Now a message must be complete by the deadline.
    """
    limits = SandboxedExecute(cell_seconds=2, wall_seconds=30).limits()
    shown, problems = _grade(zygote, limits, _notebook(_TRICKLE, tests=("print(trickle(1))",)))
    assert "ProcessEnded" in shown[1] and "time limit" in shown[1], shown[1]
    assert problems


def test_a_python_installation_under_tmp_stays_usable_in_every_world(tmp_path: Path):
    """The course's venv under /tmp (bound read-only inside the sandbox) survives the fresh /tmp.

    Before: /tmp was wiped file by file after each notebook, and the wipe walked into the venv's bind
    mount (issue 9 measured grading about 40% slower). Now each world mounts a new /tmp and binds the
    venv on it again; without that bind, the venv would be hidden and `import jinja2` would fail.
    """
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip("the test folder is not under /tmp")
    venv = tmp_path / "venv"
    venv.symlink_to(Path(sys.prefix))
    script = tmp_path / "grade.py"
    script.write_text(f'''
import json, sys
from nbformat import v4
from grader.sandbox.trusted import execute
from grader.sandbox.zygote import Zygote
from grader.preprocessors import SandboxedExecute
cell = ("import os, sys, jinja2\\nprint(sys.prefix, os.listdir('/tmp'))\\n"
        "open('/tmp/mine', 'w').close()")
zygote = Zygote(True)
for _ in range(2):
    run = execute(v4.new_notebook(cells=[v4.new_code_cell(cell)]), zygote, {{}}, {str(CHECKS)!r},
                  SandboxedExecute().limits())
    print(json.dumps(run.notebook.cells[0].outputs), run.problems)
zygote.stop()
''')
    done = subprocess.run([str(venv / "bin" / "python"), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    first_folder = str(tmp_path).split("/")[2]
    lines = done.stdout.splitlines()
    # jinja2 (in the venv, not imported before the fork) imports; /tmp holds only the way to the venv
    assert len(lines) == 2, lines
    assert all(f"{venv} ['{first_folder}']" in line and line.endswith("[]") for line in lines), lines


_DETACHED = r'''
import ctypes, os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, MARKER.encode(), 0, 0, 0)  # PR_SET_NAME
        time.sleep(30)
    os._exit(0)
time.sleep(0.3)
alive = [pid for pid in os.listdir("/proc")
         if pid.isdigit() and open(f"/proc/{pid}/comm").read().strip() == MARKER]
print("detached and alive:", len(alive))
'''


def _named(name: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.filterwarnings("ignore:grading WITHOUT a sandbox")
def test_without_bubblewrap_a_detached_process_does_not_outlive_its_notebook(limits: Limits):
    """The fallback: a double fork with setsid leaves the notebook's process group.

    Before: the zygote killed only the group, and the detached process lived on (measured: still
    there after the notebook). Now the zygote is the subreaper of all it forks and kills what is left.
    """
    marker = f"detach{os.getpid() % 10000}"
    fallback = Zygote(False)
    try:
        shown, _ = _grade(fallback, limits, _notebook(f"MARKER = {marker!r}\n" + _DETACHED))
    finally:
        fallback.stop()
    assert "detached and alive: 1" in shown[0], shown[0]  # the attack ran
    assert _named(marker) == []


def test_output_with_a_lone_surrogate_can_be_saved(zygote: Zygote, limits: Limits):
    """A cell prints (and raises with) a lone surrogate, which UTF-8 cannot hold.

    Before: the outputs kept it, and writing the graded notebook raised UnicodeEncodeError in the
    supervising process. Now it is replaced, and the notebook can be written.
    """
    cell = 'print("half an emoji: \\ud83d")\nraise ValueError("\\ud83d")'
    run = execute(_notebook(cell), zygote, {}, CHECKS, limits)
    text = nbformat.writes(run.notebook)
    assert "half an emoji: ?" in text and text.encode("utf-8")


def test_a_function_that_ends_its_process_is_reported_with_how_it_ended(zygote: Zygote, limits: Limits):
    """The student's function calls os._exit(7) while a test calls it: the test fails and says so."""
    student = "import os\n\ndef quit_now(x):\n    os._exit(7)\n"
    shown, problems = _grade(zygote, limits, _notebook(student, tests=("quit_now(1)", "print(1 + 1)")))
    assert "ProcessEnded" in shown[1] and "exited with code 7" in shown[1], shown[1]
    assert problems == ["test test_0: the student's code ended its process (exited with code 7)"], problems
    assert "2" in shown[2]  # the next test cell runs in a world of its own


_CHANGES_ITS_INPUT = "def relu(v):\n    v[v < 0] = 0\n    return v\n"
_CHECKS_IT = "import checks, numpy as np\nchecks.call(relu, np.array([-1.0, 2.0]))"


def test_a_function_that_changes_its_input_in_place_is_seen_at_grading(zygote: Zygote, limits: Limits):
    """The arrays a test hands the student's function are copies in the sandbox: the function's in-place
    change comes back with its answer, so the checks see it as in the student's own kernel (before,
    the trusted side's arrays stayed as they were, and the function kept its points)."""
    shown, problems = _grade(zygote, limits, _notebook(_CHANGES_ITS_INPUT, tests=(_CHECKS_IT,)))
    assert "changed its input" in shown[1] and "in place" in shown[1], shown
    correct = "def relu(v):\n    return np.maximum(0, v)\nimport numpy as np\n"
    shown, problems = _grade(zygote, limits, _notebook(correct, tests=(_CHECKS_IT,)))
    assert '"output_type": "error"' not in shown[1] and not problems, shown
