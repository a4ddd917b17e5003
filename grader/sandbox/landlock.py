"""Landlock (Linux 5.13+): the child confines its own file system, network and signals,
without user namespaces or privileges, so it works inside Docker and on Gradescope.

Our own binding of the three system calls, kept small: the `landlock` package on PyPI
(1.0.0.dev5) has no network or scope rules and refuses a rule on a single file, and the
child needs all three (its inputs are single files). The kernel's documentation is the
reference: https://docs.kernel.org/userspace-api/landlock.html
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import stat
from pathlib import Path

# The same numbers on every architecture (new system calls share one table).
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

# File-system rights, and the ABI version that introduced each.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
DIR_ONLY = sum(1 << i for i in range(4, 13))   # remove, make char/dir/reg/sock/fifo/block/sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FS_BY_ABI = {1: EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | DIR_ONLY, 2: REFER, 3: TRUNCATE,
             5: IOCTL_DEV}
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # what a file rule may hold
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1      # ABI 4
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
WRITE = -1  # every right the ABI handles


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.cache
def libc():
    """The C library (prctl, syscall) for every layer of the sandbox; None where it cannot
    be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _call(number: int, *args) -> int:
    if libc() is None:
        raise OSError("no C library to make the landlock system calls with")
    result = libc().syscall(ctypes.c_long(number), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock system call {number}: {os.strerror(err)}")
    return result


@functools.cache
def abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (older kernel, not Linux,
    or Landlock left out of the kernel's LSM list)."""
    if not os.uname().sysname == "Linux":
        return 0
    try:
        return _call(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except OSError:
        return 0


def handled_fs(version: int) -> int:
    return sum(bits for v, bits in FS_BY_ABI.items() if v <= version)


def restrict(*, read: list[Path], write: list[Path], devices: list[Path] = ()) -> dict:
    """Confine this process and everything it starts, for good: it may read (and run)
    what lies under `read`, read, write and create under `write`, use the `devices`, and
    nothing else; with ABI 4 no TCP bind or connect; with ABI 6 no signal to, or abstract
    socket of, a process outside its domain (the grader). Paths that do not exist are
    skipped. Returns what was enforced, for the results' provenance."""
    version = abi()
    if version < 1:
        raise OSError("Landlock is not available in this kernel")
    fs = handled_fs(version)
    attr = _RulesetAttr(fs=fs, net=(NET_BIND_TCP | NET_CONNECT_TCP) if version >= 4 else 0,
                        scoped=(SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL) if version >= 6 else 0)
    size = 8 if version < 4 else 16 if version < 6 else 24  # older kernels refuse unknown fields
    ruleset = _call(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        rights = [(p, READ) for p in read] + [(p, fs) for p in write] + \
                 [(p, READ_FILE | WRITE_FILE | IOCTL_DEV | (fs & DIR_ONLY)) for p in devices]
        for path, allowed in rights:
            _allow(ruleset, Path(path), allowed & fs)
        libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _call(SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return {"abi": version, "network": "no TCP" if version >= 4 else "not restricted by Landlock",
            "signals": "only inside its own domain" if version >= 6 else "not restricted by Landlock"}


def _allow(ruleset: int, path: Path, allowed: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            allowed &= FILE_RIGHTS  # a file rule with directory rights is refused (EINVAL)
        rule = _PathBeneath(allowed=allowed, parent_fd=fd)
        _call(SYS_ADD_RULE, ruleset, ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(fd)
