"""A small seccomp filter for the bubblewrap sandbox: no new namespaces, no kernel-heavy interfaces.

    from eurus_lib.sandbox.seccomp import filter_program
    program = filter_program()          # bytes for `bwrap --seccomp FD`, or None on other CPUs

Why: run as root, the sandbox has no user namespace of its own (see isolation.py), so without this
filter its unprivileged code could still create user namespaces and reach kernel code (netfilter,
mounts) that is normally root-only: the usual way local privilege escalations start. The filter
answers EPERM to namespace creation (unshare, setns, clone with a CLONE_NEW* flag), mounts, bpf,
perf events, userfaultfd, io_uring, keyrings and ptrace; clone3 gets ENOSYS so that the C library
falls back to clone, whose flags a filter can read. Everything else is allowed.
Layout of `struct seccomp_data` and the opcodes: linux/seccomp.h, linux/filter.h.
"""

from __future__ import annotations

import errno
import platform
import struct

# Syscall numbers per CPU (asm/unistd_64.h for x86_64, asm-generic/unistd.h for aarch64).
ARCHES = {
    "x86_64": {
        "audit_arch": 0xC000003E,
        "clone": 56, "clone3": 435,
        "denied": {
            "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
            "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
            "fspick": 433, "mount_setattr": 442, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 250,
            "add_key": 248, "request_key": 249, "ptrace": 101,
        },
    },
    "aarch64": {
        "audit_arch": 0xC00000B7,
        "clone": 220, "clone3": 435,
        "denied": {
            "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
            "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
            "fspick": 433, "mount_setattr": 442, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 219,
            "add_key": 217, "request_key": 218, "ptrace": 117,
        },
    },
}
CLONE_NEW_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
X32_SYSCALL_BIT = 0x40000000

LD_ABS_W, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16  # in struct seccomp_data (arg0's low half: little-endian)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter as raw `struct sock_filter` entries, or None where we have no syscall table."""
    table = ARCHES.get(machine or platform.machine())
    if table is None:
        return None
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    prog = [
        _op(LD_ABS_W, OFFSET_ARCH),
        _op(JEQ, table["audit_arch"], 1, 0),
        _op(RET, RET_KILL_PROCESS),  # another ABI (e.g. 32-bit calls) would bypass the numbers below
        _op(LD_ABS_W, OFFSET_NR),
    ]
    if table["audit_arch"] == ARCHES["x86_64"]["audit_arch"]:
        prog += [_op(JGE, X32_SYSCALL_BIT, 0, 1), _op(RET, eperm)]
    for nr in table["denied"].values():
        prog += [_op(JEQ, nr, 0, 1), _op(RET, eperm)]
    prog += [_op(JEQ, table["clone3"], 0, 1), _op(RET, enosys)]
    prog += [
        _op(JEQ, table["clone"], 0, 3),
        _op(LD_ABS_W, OFFSET_ARG0),
        _op(JSET, CLONE_NEW_FLAGS, 0, 1),
        _op(RET, eperm),
        _op(RET, RET_ALLOW),
    ]
    return b"".join(prog)
