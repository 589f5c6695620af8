"""The kernel interfaces a notebook is refused (seccomp), compiled by the trusted side with libseccomp.

A notebook needs what numpy, matplotlib and the Python standard library do with files, memory,
threads and pipes. Everything below is refused (EPERM) because it can carry a bit from one world to
another, hold memory or kernel state outside the world's count, watch or touch other processes, or
change the world's own walls. Two filters, one table:
- the sandbox's filter (bubblewrap's --seccomp: the zygote and everything in it), which still lets a
  world's first process set its world up (new namespaces, mounts);
- the world's filter, which the world's first process adds once its world is set up, before any code
  of the student runs: no more namespaces, mounts or capabilities from then on.
clone3 answers ENOSYS, as if the kernel had none: its flags cannot be inspected, and the C library then
falls back to clone, whose flags can.
"""

from __future__ import annotations

import errno
import functools
import tempfile

# Each reason names what the interface could do in a world; the names are the kernel's.
REFUSED: dict[str, tuple[str, ...]] = {
    "watches files another world opens (file-change notification)": (
        "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_init",
        "fanotify_mark"),
    "locks on shared files, seen by every process that opens them": ("flock",),
    "page-cache residency of shared files, set by one world and read by another (RWF_NOWAIT)": (
        "mincore", "cachestat", "preadv2", "pwritev2"),
    "asynchronous I/O: the machine's pool of AIO contexts, and RWF_NOWAIT again": (
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"),
    "wait queues keyed by a shared file's pages (futexes on mappings other worlds can make)": (
        "futex_waitv", "futex_wake", "futex_wait", "futex_requeue"),
    "hard links: a tree of names that takes seconds to tear down when the world ends": ("link", "linkat"),
    "page-cache residency again: major page faults counted (getrusage), pages of shared files evicted "
    "or read ahead": ("getrusage", "fadvise64", "readahead"),
    "the machine's disk counters (free blocks change as the grader saves notebooks)": (
        "statfs", "fstatfs", "statfs64", "fstatfs64"),
    "kernel keyrings, kept per user across namespaces": ("add_key", "request_key", "keyctl"),
    "performance counters, BPF and io_uring: kernel state and memory outside the world's count": (
        "perf_event_open", "bpf", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd"),
    "SysV and POSIX IPC objects that outlive a process": (
        "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
        "semctl", "semtimedop", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
        "mq_getsetattr"),
    "anonymous files: memory reached by a file descriptor": ("memfd_create", "memfd_secret"),
    "other processes' memory and state": (
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
        "process_mrelease", "move_pages", "migrate_pages", "mbind", "set_mempolicy",
        "set_mempolicy_home_node"),
    "the machine's log, global counters and clocks": (
        "syslog", "sysinfo", "adjtimex", "clock_adjtime", "clock_settime", "settimeofday", "acct",
        "lookup_dcookie", "ioprio_set", "ioprio_get"),
    "file handles that name files outside the world's view": ("name_to_handle_at", "open_by_handle_at"),
    "the kernel itself": (
        "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
        "swapon", "swapoff", "quotactl", "quotactl_fd", "iopl", "ioperm", "uselib", "ustat", "sysfs",
        "_sysctl", "personality", "vhangup", "nfsservctl", "modify_ldt"),
}
# What a world's first process still needs to set its world up; refused in the world itself.
WORLD_SETUP: dict[str, tuple[str, ...]] = {
    "passing file descriptors (SCM_RIGHTS): descriptors in flight are counted per kernel user, which "
    "every world shares": ("sendmsg", "sendmmsg"),
    "new namespaces, mounts and capabilities once the world is set up": (
        "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
        "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "capset", "sethostname",
        "setdomainname", "statmount", "listmount"),
}
SANDBOX_ONLY: dict[str, tuple[str, ...]] = {"attaching to an existing namespace": ("setns",)}

CLONE_NEW = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
# fcntl commands a notebook never needs (it keeps F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
# F_DUPFD_CLOEXEC, F_GETPIPE_SZ): locks and leases (seen by every opener of a file), change
# notification, signal ownership, pipe sizes (counted per kernel user), seals, and write-life hints
# (kept on the machine's inode, even through a read-only descriptor).
F_REFUSED = {5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG",
             11: "F_GETSIG", 15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 17: "F_GETOWNER_UIDS",
             36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE", 1025: "F_GETLEASE",
             1026: "F_NOTIFY", 1029: "F_CANCELLK", 1031: "F_SETPIPE_SZ", 1033: "F_ADD_SEALS",
             1034: "F_GET_SEALS", 1035: "F_GET_RW_HINT", 1036: "F_SET_RW_HINT", 1037: "F_GET_FILE_RW_HINT",
             1038: "F_SET_FILE_RW_HINT"}
# The kernel reads these arguments as 32-bit ints; the filter sees the whole 64-bit register, so it
# compares only the low 32 bits (a command with high bits set is the same command to the kernel).
LOW_32_BITS = 0xFFFF_FFFF
FUTEX_PRIVATE_FLAG = 128  # a futex of this process's own memory; without it the kernel keys it by file page
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
MADV_COLD, MADV_PAGEOUT = 20, 21  # madvise advice that pushes a shared file's pages out of the cache
SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6: a world's own network namespace has no link


# System calls newer than some libseccomp releases know by name; since Linux 5.1 a new system call has
# the same number on every architecture but alpha.
UNIFIED_NUMBERS = {"cachestat": 451, "statmount": 457, "listmount": 458, "memfd_secret": 447,
                   "process_mrelease": 448, "set_mempolicy_home_node": 450, "mount_setattr": 442,
                   "quotactl_fd": 443, "process_madvise": 440, "pidfd_getfd": 438, "open_tree": 428,
                   "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
                   "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
                   "futex_waitv": 449, "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456}


class SeccompUnavailable(Exception):
    """libseccomp cannot be loaded here."""


def _library():
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as error:
        raise SeccompUnavailable(f"libseccomp is not available ({error}); install it: "
                                 "apt-get install libseccomp2") from None
    return pyseccomp


def _build(world: bool) -> bytes:
    seccomp = _library()
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    tables = [REFUSED, WORLD_SETUP] if world else [REFUSED, SANDBOX_ONLY]
    names = sorted({name for table in tables for group in table.values() for name in group})
    for name in names:
        try:
            rules.add_rule(refuse, name)
        except (ValueError, RuntimeError, OSError):  # a name this libseccomp does not know
            if name in UNIFIED_NUMBERS:
                rules.add_rule(refuse, UNIFIED_NUMBERS[name])
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for command in F_REFUSED:
        for name in ("fcntl", "fcntl64"):
            try:
                rules.add_rule(refuse, name, seccomp.Arg(1, seccomp.MASKED_EQ, LOW_32_BITS, command))
            except (ValueError, RuntimeError, OSError):  # no fcntl64 on 64-bit architectures
                continue
    for request in (TIOCSTI, TIOCLINUX):
        rules.add_rule(refuse, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, LOW_32_BITS, request))
    for advice in (MADV_COLD, MADV_PAGEOUT):
        rules.add_rule(refuse, "madvise", seccomp.Arg(2, seccomp.MASKED_EQ, LOW_32_BITS, advice))
    # a child's resource usage (its major faults) read while waiting for it
    rules.add_rule(refuse, "wait4", seccomp.Arg(3, seccomp.NE, 0))
    rules.add_rule(refuse, "waitid", seccomp.Arg(4, seccomp.NE, 0))
    for name in ("socket", "socketpair"):
        rules.add_rule(refuse, name, seccomp.Arg(0, seccomp.GT, max(SOCKET_FAMILIES)))
        for family in set(range(max(SOCKET_FAMILIES))) - set(SOCKET_FAMILIES):
            rules.add_rule(refuse, name, seccomp.Arg(0, seccomp.EQ, family))
    if world:
        for flag in CLONE_NEW:
            rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        # Only private futexes (threads, locks): a shared one on a mapped file is a wait queue any
        # world that maps the same file reaches.
        rules.add_rule(refuse, "futex", seccomp.Arg(1, seccomp.MASKED_EQ, FUTEX_PRIVATE_FLAG, 0))
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


@functools.cache
def sandbox_filter() -> bytes:
    """The BPF program bubblewrap installs for the whole sandbox."""
    return _build(world=False)


@functools.cache
def world_filter() -> bytes:
    """The BPF program a world's first process adds once the world is set up."""
    return _build(world=True)
