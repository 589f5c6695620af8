"""Supervising worlds: the zygote (the sandbox's pid 1, numpy and matplotlib imported) forks a world per
notebook and per test cell, sets it up, and ends it; it runs nothing of a student itself.

A world is what one notebook's cells (or one test cell, after its own replay of the cells) run in:
its first process enters a new namespace of every kind (user, mount, pid, IPC, UTS, network, cgroup,
time), mounts a fresh tmpfs on /scratch, /tmp, /dev/shm and the read-only folder of the instructor's
files and an empty one on /proc, drops every capability and adds the world's seccomp filter, then
forks the world's pid 1, which runs the cells (cells.py). When it ends (or is stopped: the trusted
side kills its cgroup, the zygote its pid 1), the kernel kills every process in the world, and its
folders vanish with its mount namespace.
Without bubblewrap (the fallback) the world is a child in its own process group, killed as a group,
and its folder is emptied afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import gc
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import time
from typing import Any

import cells
import codec
import figures
import protocol
from protocol import Op

_LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x08000000, 0x10000000, 0x20000000
CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME = 0x04000000, 0x40000000, 0x02000000, 0x00000080
# Every namespace Linux offers, new for each world: it shares no kernel object with any other world.
WORLD_NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
                    | CLONE_NEWCGROUP | CLONE_NEWTIME)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH, MS_MOVE = 2, 8192
SPARES = 1  # worlds' first processes made ahead
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prewarm() -> None:
    """Import what every notebook uses once, before any fork."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy.random  # noqa: F401 - numpy, and what initialises weights (each world imported it again)
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401

    plt.show = lambda *args, **kwargs: None
    figures.skip_layout_when_quiet()
    figures.draw_once(plt)


def zygote() -> None:
    """Serve notebooks one at a time on the control socket until told to quit."""
    prewarm()
    # What is imported now is never collected: a world's garbage collector then leaves it alone, and
    # does not write to (and so copy) every page the world shares with the zygote.
    gc.collect()
    gc.freeze()
    # As the sandbox's pid 1 the zygote gets only the signals it handles: it handles none.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        _LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # nothing forked from here can be traced or read
        if not protocol.ISOLATED:  # what the student's code forks (even after setsid) comes back here
            _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    control = socket.socket(fileno=int(os.environ[protocol.ENV_CONTROL_FD]))
    control.send(protocol.READY)
    spares: list[_Spare] = []
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        if not data or data == protocol.QUIT or not fds:
            return
        channel = socket.socket(fileno=fds[0])
        settings = json.loads(data)
        size = int(settings["tmpfs_bytes"])
        if protocol.ISOLATED:
            for spare in [spare for spare in spares if spare.tmpfs_bytes != size]:
                spares.remove(spare)
                _discard(spare)
            spare = spares.pop(0) if spares else _Spare.fork(control, size)
            status = _serve_world(control, channel, settings, spare)
            # Every process of the world is gone (its pid 1 was reaped, and with it its pid namespace):
            # the trusted side goes on while the world's first process tears its folders down.
            control.send(json.dumps({"done": status, "restart": False}).encode())
            with contextlib.suppress(ChildProcessError):
                os.waitpid(spare.pid, 0)
            clean = _sweep(keep={waiting.pid for waiting in spares})
        else:
            status = _serve_unisolated(control, channel, settings)
            clean = _sweep()
            control.send(json.dumps({"done": status, "restart": not clean}).encode())
        if not clean:
            return  # something outlived its notebook: the trusted side starts a new sandbox
        # The next worlds' namespaces and folders are made now, while the trusted side is busy.
        while protocol.ISOLATED and len(spares) < SPARES:
            spares.append(_Spare.fork(control, size))


class _Spare:
    """A world's first process, forked ahead (after the last world was swept) with its namespaces and
    fresh folders made, waiting for its channel: the kernel's slow part of making them (waiting for
    RCU grace periods) is then off a notebook's way. It runs nothing before its channel comes."""

    def __init__(self, pid: int, handover: socket.socket, report: int, tmpfs_bytes: int) -> None:
        self.pid, self.handover, self.report, self.tmpfs_bytes = pid, handover, report, tmpfs_bytes

    @classmethod
    def fork(cls, control: socket.socket, tmpfs_bytes: int) -> _Spare:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        report_out, report_in = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                ours.close()
                os.close(report_out)
                _quiet_stdio()
                _private_descriptors(keep={theirs.fileno(), report_in})
                _enter_namespaces()
                _fresh_folders(tmpfs_bytes)
                data, fds, _, _ = socket.recv_fds(theirs, 1 << 16, 1)
                theirs.close()
                if fds:
                    _world(socket.socket(fileno=fds[0]), json.loads(data), report_in)
            finally:
                os._exit(0)
        theirs.close()
        os.close(report_in)
        return cls(pid, ours, report_out, tmpfs_bytes)


def _discard(spare: _Spare | None) -> None:
    if spare is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(spare.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(spare.pid, 0)
        spare.handover.close()
        os.close(spare.report)


def _serve_world(control: socket.socket, channel: socket.socket, settings: dict, spare: _Spare) -> str:
    """Run one notebook (or one test cell) in a world of its own; say how it ended once it is gone.

    The world is a new namespace of every kind. Its first process (a `_Spare`, made ahead) has
    mounted fresh folders; it takes the instructor's files and forks the world's init; when that init
    ends, the kernel kills every process of the world, whatever its state, and the world's folders go
    with its mount namespace.
    """
    pid, report_out = spare.pid, spare.report
    with contextlib.suppress(OSError):  # if the spare is gone, the trusted side finds the world ended
        socket.send_fds(spare.handover, [json.dumps(settings).encode()], [channel.fileno()])
    spare.handover.close()
    channel.close()
    try:
        pidfd = os.pidfd_open(pid)  # Linux only, like the sandbox itself
        try:
            ended_first = _wait_for_end(control, pidfd)
        finally:
            os.close(pidfd)
        report = "" if ended_first else _kill_world(report_out)
        report += _read_until_ended(report_out)  # the world's pid 1 reaped: nothing of the world runs
    finally:
        os.close(report_out)
    ending = re.search(r"^ended (.+)$", report, re.M)
    if ending and (ended_first or ending.group(1) != "killed by signal SIGKILL"):
        return ending.group(1)  # it ended by itself (perhaps just before the word to stop came)
    return "the world's first process ended" if ended_first else "stopped while running"


def _kill_world(report: int) -> str:
    """Kill the world's init: the kernel then kills every other process of the world. Returns what
    was read of the world's report."""
    ready, _, _ = select.select([report], [], [], 10)
    text = os.read(report, 4096).decode(errors="replace") if ready else ""
    match = re.match(r"init (\d+)\n", text)
    if match:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(match.group(1)), signal.SIGKILL)
    return text


def _read_until_ended(fd: int) -> str:
    """The world's report up to its "ended" line (or its end): its pid 1 was reaped then."""
    chunks = []
    while (chunk := os.read(fd, 4096)) and b"ended " not in b"".join([*chunks, chunk]):
        chunks.append(chunk)
    return b"".join([*chunks, chunk]).decode(errors="replace")


def _serve_unisolated(control: socket.socket, channel: socket.socket, settings: dict) -> str:
    """Without bubblewrap: a child in its own process group, killed as a group; its folder wiped."""
    pid = os.fork()
    if pid == 0:
        control.close()
        try:
            os.setsid()
            _join_container(channel)
            _take_files(channel, (protocol.SCRATCH,))
            refuse_world_syscalls()
            codec.send(channel, {"ok": True})
            cells.serve(channel, settings)
        finally:
            os._exit(0)
    channel.close()
    status = 0
    pidfd = os.pidfd_open(pid)
    try:
        ended_first = _wait_for_end(control, pidfd)
    finally:
        os.close(pidfd)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(pid, 0)
    _wipe(protocol.SCRATCH)
    return protocol.describe_status(status) if ended_first else "stopped while running"


def _wait_for_end(control: socket.socket, pidfd: int) -> bool:
    """Wait for the trusted side's word that the notebook is done; whether its process ended first."""
    ready, _, _ = select.select([control, pidfd], [], [])
    control.recv(4096)  # the word to stop (waited for, when the process ended first)
    return pidfd in ready


def _sweep(keep: frozenset[int] | set[int] = frozenset()) -> bool:
    """Reap what is left and make sure no process but the zygote (and the worlds' first processes made
    ahead, `keep`, which have run nothing yet) remains; False if one does."""
    me = os.getpid()
    for _ in range(50):
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        others = [pid for pid in _other_processes(me) if pid not in keep]
        if not others:
            return True
        for pid in others:  # a zombie thread-group leader is killed with its group too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    return False


def _other_processes(me: int) -> list[int]:
    """Inside bubblewrap: every process but the zygote. Without it: the zygote's children, which are all
    that is left of a notebook's processes (the zygote is their subreaper)."""
    if protocol.ISOLATED:
        return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me)]
    children = []
    for name in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{name}/stat", "rb") as handle:
            if int(handle.read().rsplit(b")", 1)[1].split()[1]) == me:
                children.append(int(name))
    return children


def _wipe(folder: str) -> None:
    """Empty a folder, whatever permissions the student's code gave what is in it (fallback only)."""
    for _ in range(3):
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, onerror=_writable_then_retry)
                else:
                    os.unlink(path)
        if not os.listdir(folder):
            return


def _writable_then_retry(function: Any, path: str, _: Any) -> None:
    with contextlib.suppress(OSError):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)


def _world(channel: socket.socket, settings: dict, report: int) -> None:
    """The world's first process, in its namespaces and fresh folders: the instructor's files, no
    capability, the world's seccomp filter; then its pid 1."""
    _join_container(channel)
    _take_files(channel, (protocol.SUPPORT, protocol.SCRATCH))
    _mount(None, protocol.SUPPORT, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _drop_capabilities()  # the world's processes have none, not even in their own namespaces
    refuse_world_syscalls()
    codec.send(channel, {"ok": True})
    init = os.fork()
    if init == 0:  # the world's pid 1 runs the notebook: when it ends, so does every process of the world
        os.close(report)
        try:
            cells.serve(channel, settings)
        finally:
            os._exit(0)
    channel.close()
    os.write(report, f"init {init}\n".encode())
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(init, 0)
        os.write(report, f"ended {protocol.describe_status(status)}\n".encode())


def _private_descriptors(keep: set[int]) -> None:
    """No open file description of the zygote's is shared with a world: a file the zygote keeps open
    (matplotlib's fonts) is opened anew here, anything else closed. (A description is one offset and
    one set of flags for every process that holds it: every world forked from the zygote would share
    them with every other.)"""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2 or fd in keep:
            continue
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
            if path.startswith("/") and os.path.isfile(path):
                fresh = os.open(path, os.O_RDONLY)
                os.dup2(fresh, fd, inheritable=os.get_inheritable(fd))
                os.close(fresh)
            else:
                os.close(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.close(fd)


def _quiet_stdio() -> None:
    """The world writes nothing to the zygote's output (a pipe the trusted side reads when it crashes)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _enter_namespaces() -> None:
    """New user, mount, pid, IPC, UTS, network, cgroup and time namespaces; the same uid inside, with
    capabilities until dropped."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_LIBC.unshare(WORLD_NAMESPACES), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _fresh_folders(size: int) -> None:
    """Every place a world can write is a new tmpfs of its own: /scratch, /tmp, /dev/shm and the folder
    of the instructor's files; /dev is made anew, read-only, with only the devices a notebook needs (no
    terminals: the machine's pool of them is shared); read-only folders bound below a writable one
    are bound again; /proc is covered."""
    keep = [path for path in os.environ.get(protocol.ENV_KEEP, "").split(os.pathsep) if path]
    _mount("tmpfs", protocol.HOLD, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=64,mode=700")
    for index, path in enumerate(keep):
        os.mkdir(f"{protocol.HOLD}/{index}")
        _mount(path, f"{protocol.HOLD}/{index}", None, MS_BIND | MS_REC)
    _new_dev()
    # A limit on files as well as bytes: ending a world tears its folders down, file by file.
    writable = ((protocol.SCRATCH, "755"), ("/tmp", "1777"), ("/dev/shm", "1777"), (protocol.SUPPORT, "755"))
    for folder, mode in writable:
        options = f"size={size},nr_inodes={protocol.FILES},mode={mode}"
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, options)
    _mount(None, "/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    for index, path in enumerate(keep):
        os.makedirs(path, exist_ok=True)
        _mount(f"{protocol.HOLD}/{index}", path, None, MS_BIND | MS_REC)
    _check(_LIBC.umount2(protocol.HOLD.encode(), MNT_DETACH), "umount")
    # The sandbox's /proc shows the machine's counters (memory, load, CPU time) that any world changes
    # and any other could read: a world sees an empty, read-only folder there.
    _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")


def _new_dev() -> None:
    """A /dev of the world's own (bubblewrap's is one writable tmpfs for the whole sandbox)."""
    staged = f"{protocol.HOLD}/dev"
    os.mkdir(staged)
    _mount("tmpfs", staged, "tmpfs", MS_NOSUID, "size=64k,nr_inodes=64,mode=755")
    for name in protocol.DEVICES:
        open(f"{staged}/{name}", "w").close()
        _mount(f"/dev/{name}", f"{staged}/{name}", None, MS_BIND)
    os.mkdir(f"{staged}/shm")
    _mount(staged, "/dev", None, MS_MOVE)


def refuse_world_syscalls() -> None:
    """From here on, no new namespace, mount or capability, nor any interface syscalls.py refuses
    (the trusted side compiled the program; the sandbox's own filter stays under it)."""
    program = base64.b64decode(os.environ.get(protocol.ENV_WORLD_FILTER, ""))
    if not program:
        return
    instructions = (ctypes.c_uint64 * (len(program) // 8)).from_buffer_copy(program)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program) // 8, ctypes.addressof(instructions))
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def _drop_capabilities() -> None:
    """No capability at all from here on, not even in the world's own namespaces."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _check(_LIBC.capset(header, (ctypes.c_uint32 * 6)()), "capset")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def text(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    _check(_LIBC.mount(text(source), text(target), text(fstype), ctypes.c_ulong(flags), text(data)),
           f"mount {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _write_bytecode(modules: dict[str, str]) -> None:
    """The trusted side's compiled instructor modules (checked against their source when imported)."""
    folder = os.path.join(protocol.SUPPORT, "__pycache__")
    for module, data in modules.items():
        if module.isidentifier():
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{module}.{sys.implementation.cache_tag}.pyc"), "wb") as handle:
                handle.write(base64.b64decode(data))


def _join_container(channel: socket.socket) -> None:
    """The world's first process says hello: the kernel tells the trusted side which process sent it
    (SCM_CREDENTIALS), which puts it in the world's resource container and then says so. Everything
    the world does from here on (its files, its pid 1, the student's code, ending it) is counted there."""
    channel.sendall(protocol.HELLO)
    if "contained" not in codec.receive(channel, 1 << 10):
        raise ConnectionError("the world was not contained")


def _take_files(channel: socket.socket, folders: tuple[str, ...]) -> None:
    """The instructor's files (Op.FILES, the world's first message) written into these folders."""
    message = codec.receive(channel, protocol.INBOUND_BYTES)
    if message.get("op") != Op.FILES:
        raise ConnectionError("a world's first message is its files")
    _write_files(message["files"], folders)
    _write_bytecode(message.get("bytecode", {}))


def _write_files(files: dict[str, str], folders: tuple[str, ...]) -> None:
    for name, data in files.items():
        if os.path.basename(name) != name or name.startswith("."):
            continue
        for folder in folders:
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(base64.b64decode(data))

