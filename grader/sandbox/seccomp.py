"""seccomp: the child gives up the system calls a training run never needs and that
reach past its file system: sockets other than AF_UNIX (no TCP or UDP to 127.0.0.1 or
anywhere, no raw sockets), tracing or reading other processes, mounting, new
namespaces, kernel modules, keyrings, io_uring (its operations bypass this filter).

The filter is built with libseccomp through `pyseccomp` (PyPI, ctypes over the system's
libseccomp.so.2, the same API as Debian's python3-seccomp). Everything not listed stays
allowed, so torch's threads, memory mapping and DataLoader workers work as before.
"""
from __future__ import annotations

import errno
import functools
import socket

DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
          "chroot", "unshare", "setns", "move_mount", "open_tree", "fsopen", "fsmount",
          "fspick", "mount_setattr", "kexec_load", "kexec_file_load", "init_module",
          "finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key",
          "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter",
          "io_uring_register", "swapon", "swapoff", "reboot", "acct", "quotactl",
          "open_by_handle_at", "name_to_handle_at", "personality")
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
CLONE_NEW = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
             0x40000000, 0x00000080)


@functools.cache
def available() -> bool:
    """Whether pyseccomp and the system's libseccomp can be loaded here."""
    try:
        import pyseccomp  # noqa: F401 - loads libseccomp.so.2
    except (ImportError, OSError, AttributeError):
        return False
    return True


def restrict() -> dict:
    """Load the filter into this process; it holds for everything it starts, for good."""
    import pyseccomp as sc
    f = sc.SyscallFilter(sc.ALLOW)
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socketpair", sc.Arg(0, sc.NE, socket.AF_UNIX))
    for name in DENIED:
        _try(f.add_rule, sc.ERRNO(errno.EPERM), name)
    for flag in CLONE_NEW:  # a thread or a process, yes; a new namespace, no
        _try(f.add_rule, sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc use clone
    _try(f.add_rule, sc.ERRNO(errno.ENOSYS), "clone3")
    f.load()  # sets no_new_privs too
    return {"sockets": "AF_UNIX only", "denied": "ptrace, mount, namespaces, modules, io_uring, ..."}


def _try(add, *args) -> None:
    try:
        add(*args)
    except (OSError, ValueError, RuntimeError):
        pass  # a call this architecture or libseccomp does not know: nothing to deny
