"""Run one piece of model-written Python in the sandbox and report how it ended.

    from eurus_lib.sandbox import run_python
    r = run_python("print(sum(range(10)))", timeout_s=5, memory_mb=512)
    r.status, r.stdout, r.mode        # ("ok", "45\\n", "bwrap")

The host side of a run: it hands the code to `_inner.py` through a memfd, reads stdout and stderr
through pipes (keeping the first `max_output_bytes` of each), enforces the wall-clock limit, and
makes sure that every process of the run is gone before it returns.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import posixpath
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import KitError
from . import isolation as iso
from ._inner import MEMORY_EXIT
from .seccomp import filter_program

INNER_SOURCE = Path(__file__).with_name("_inner.py").read_text()
EXIT_GRACE_S = 0.2  # how long to keep reading pipes that outlive the main process (subprocess mode)
FLOOD_FACTOR = 64  # output beyond this many times the kept size gets the process killed
SECCOMP_PROGRAM = filter_program()


@dataclass(frozen=True)
class ExecResult:
    """How a sandboxed run ended.

    status: "ok" (exit 0), "error" (non-zero exit, e.g. an exception), "timeout" (wall clock or
    CPU limit), "memory" (MemoryError under the address-space limit) or "killed" (ended by a
    signal: a crash, a signal it sent itself, or the sandbox stopping an output flood).
    returncode is negative for a signal. In bwrap mode an exit code above 128 reads as a signal.
    """

    status: str
    stdout: str
    stderr: str
    returncode: int | None
    duration_s: float
    mode: str
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Limits:
    """What one run may use; `check` refuses values the sandbox cannot honour."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    max_processes: int = 16
    max_file_mb: int = 16
    max_output_bytes: int = 64 * 1024

    def check(self) -> None:
        if not self.timeout_s > 0:
            raise KitError(f"timeout_s={self.timeout_s} must be a positive number of seconds.")
        if self.memory_mb < 32:
            raise KitError(f"memory_mb={self.memory_mb} is too small for Python to start; use 32 or more.")
        if self.max_processes < 2:
            raise KitError(f"max_processes={self.max_processes} must be at least 2 (the sandbox's init counts).")
        if self.max_file_mb < 1 or self.max_output_bytes < 1:
            raise KitError("max_file_mb and max_output_bytes must be positive.")


def run_python(code: str, *, stdin: str = "", timeout_s: float = 5.0, memory_mb: int = 512,
               files: dict[str, str | bytes] | None = None, max_processes: int = 16,
               max_output_bytes: int = 64 * 1024, site_packages: bool = False,
               isolation: str | None = None) -> ExecResult:
    """Run `code` as `python main.py` in a fresh sandbox and return how it ended.

    files: extra files for the working folder ({relative path: text or bytes}).
    max_processes: processes and threads the run may have at once.
    site_packages: let the code import this environment's installed packages (read-only).
    isolation: "auto" (default: bwrap where it works), "bwrap" or "subprocess".
    """
    mode = iso.resolve(isolation)
    limits = Limits(timeout_s, memory_mb, max_processes, max_output_bytes=max_output_bytes)
    return execute(code, mode=mode, stdin=stdin, files=files, site_packages=site_packages, limits=limits)


def execute(code: str, *, mode: str, limits: Limits, stdin: str = "", files: dict | None = None,
            site_packages: bool = False) -> ExecResult:
    """run_python with the mode already chosen (the bubblewrap check calls this directly)."""
    limits.check()
    payload = marshal.dumps((code, _checked_files(files)))
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        uid = stack.enter_context(iso.uid_pool.lease()) if _switches_uid(mode) else -1
        run = stack.enter_context(_Run(mode, limits))
        run.start(payload, stdin, uid, site_packages)
        run.pump(started + limits.timeout_s)
        run.stop_all()
        return run.result(time.monotonic() - started)


def _parent_pid(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
    return None


def _ready(fd: int, timeout_s: float) -> bool:
    """Whether fd is readable (a pidfd: its process has exited) within timeout_s; poll has no fd-number limit."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000))


def _switches_uid(mode: str) -> bool:
    return mode == "bwrap" and os.geteuid() == 0


def _checked_files(files: dict | None) -> dict[str, bytes]:
    checked = {}
    for name, data in (files or {}).items():
        norm = posixpath.normpath(str(name))
        if not name or norm.startswith("/") or norm in (".", "..") or norm.startswith("../"):
            raise KitError(f"Sandbox file name {name!r} must be a relative path inside the working folder.")
        checked[norm] = data.encode() if isinstance(data, str) else bytes(data)
    return checked


class _Capped:
    """Keeps the first `cap` bytes of a stream and counts the rest."""

    def __init__(self, name: str, cap: int) -> None:
        self.name, self.cap = name, cap
        self.kept = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = max(0, self.cap - len(self.kept))
        self.kept += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        text = self.kept.decode("utf-8", "replace")
        if self.dropped:
            text += f"\n[sandbox: {self.name} cut after {self.cap} bytes; {self.dropped} more bytes not shown]\n"
        return text


class _Run:
    """One sandboxed process tree: its descriptors, its output and how it ended."""

    def __init__(self, mode: str, limits: Limits) -> None:
        self.mode, self.limits = mode, limits
        self.out = _Capped("stdout", limits.max_output_bytes)
        self.err = _Capped("stderr", limits.max_output_bytes)
        self.fds: list[int] = []
        self.workdir: str | None = None
        self.init_pidfd: int | None = None  # bubblewrap's init, pid 1 of the sandbox
        self.info = b""
        self.stopped_for: str | None = None
        self.exited = False

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "proc", None) is not None and self.proc.returncode is None:
            self.stop_all()
        for fd in self.fds:
            os.close(fd)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _fd(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def _memfd(self, data: bytes) -> int:
        fd = self._fd(os.memfd_create("eurus-sandbox"))
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        return self._fd(r), self._fd(w)

    def _close(self, fd: int) -> None:
        self.fds.remove(fd)
        os.close(fd)

    def start(self, payload: bytes, stdin: str, uid: int, site_packages: bool) -> None:
        payload_fd = self._memfd(payload)
        self.started_r, started_w = self._pipe()
        write_ends = [started_w]  # the run gets these; our copies close once it has started
        prefix, cwd, env, extra_fds = self._isolation(site_packages, write_ends)
        lim = self.limits
        extra = ":".join(iso.site_packages_dirs()) if site_packages else ""
        args = [payload_fd, started_w, uid, int(lim.timeout_s) + 1, lim.memory_mb << 20,
                lim.max_processes, lim.max_file_mb << 20, 256, extra]
        cmd = prefix + [iso.python_executable(), "-I", "-S", "-c", INNER_SOURCE, *map(str, args)]
        stdin_fd = self._memfd(stdin.encode()) if stdin else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(cmd, stdin=stdin_fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         pass_fds=[payload_fd, *write_ends, *extra_fds], cwd=cwd, env=env,
                                         start_new_session=True)
        except OSError as error:
            raise KitError(f"The sandbox could not start ({self.mode} mode): {error}.") from error
        finally:
            for fd in write_ends:
                self._close(fd)

    def _isolation(self, site_packages: bool, write_ends: list[int]) -> tuple[list[str], str, dict, list[int]]:
        """(command prefix, host cwd, environment, extra fds to pass) for this run's mode."""
        if self.mode == "subprocess":
            self.workdir = tempfile.mkdtemp(prefix="eurus-sandbox-")
            return [], self.workdir, {**iso.SANDBOX_ENV, "HOME": self.workdir, "TMPDIR": self.workdir}, []
        self.info_r, info_w = self._pipe()
        write_ends.append(info_w)
        # bubblewrap reads the filter to its end, so every run needs its own copy.
        seccomp_fd = self._memfd(SECCOMP_PROGRAM) if SECCOMP_PROGRAM else None
        prefix = iso.bwrap_command(info_w, site_packages=site_packages, seccomp_fd=seccomp_fd)
        return prefix, "/", {}, [seccomp_fd] if seccomp_fd is not None else []

    def pump(self, deadline: float) -> None:
        """Read output until the run is over, its time is up or it floods; stop it in the last two cases."""
        sel = selectors.DefaultSelector()
        pidfd = self._fd(os.pidfd_open(self.proc.pid))
        sel.register(pidfd, selectors.EVENT_READ, "exit")
        sel.register(self.proc.stdout, selectors.EVENT_READ, self.out)
        sel.register(self.proc.stderr, selectors.EVENT_READ, self.err)
        if self.mode == "bwrap":
            sel.register(self.info_r, selectors.EVENT_READ, "info")
        with sel:
            while len(sel.get_map()) > 0 and self.stopped_for is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stopped_for = None if self.exited else "timeout"
                    break
                for key, _ in sel.select(remaining):
                    deadline = self._on_ready(sel, key, deadline)

    def _on_ready(self, sel: selectors.BaseSelector, key: selectors.SelectorKey, deadline: float) -> float:
        if key.data == "exit":
            sel.unregister(key.fileobj)
            self.exited = True
            self._stop_group()  # in subprocess mode, children left in the group would hold the pipes
            return min(deadline, time.monotonic() + EXIT_GRACE_S)
        if key.data == "info":
            chunk = os.read(key.fd, 4096)
            self.info += chunk
            if not chunk or self._watch_init():
                sel.unregister(key.fileobj)
            return deadline
        chunk = os.read(key.fd, 1 << 16)
        if not chunk:
            sel.unregister(key.fileobj)
        else:
            key.data.add(chunk)
            if self.out.dropped + self.err.dropped > FLOOD_FACTOR * self.limits.max_output_bytes:
                self.stopped_for = "flood"
        return deadline

    def _watch_init(self) -> bool:
        """bubblewrap reports its init's pid; a pidfd on it lets us kill and await the whole sandbox.

        Returns False while the report is still incomplete.
        """
        try:
            pid = json.loads(self.info)["child-pid"]
        except (ValueError, KeyError, TypeError):
            return False
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(pid)
            # pids get reused: trust the pidfd only if it names a live child of our (unreaped) bubblewrap.
            if _parent_pid(pid) == self.proc.pid and not _ready(pidfd, 0):
                self.init_pidfd = self._fd(pidfd)
            else:
                os.close(pidfd)
        return True

    def _drain_info(self) -> None:
        os.set_blocking(self.info_r, False)
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.info_r, 4096):
                self.info += chunk

    def _stop_group(self) -> None:
        if self.mode == "subprocess":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        """Kill whatever is left of the run and wait until it is gone."""
        if self.mode == "bwrap" and self.init_pidfd is None:
            self._drain_info()  # a run stopped early may not have had its report read yet
            self._watch_init()
        if self.init_pidfd is not None:
            # When a PID namespace's init dies, the kernel kills everything in it before init's exit completes.
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
        self._stop_group()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        if self.init_pidfd is not None:
            _ready(self.init_pidfd, 10.0)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def result(self, duration_s: float) -> ExecResult:
        rc = self.proc.returncode
        if self.mode == "bwrap" and rc > 128:
            rc = 128 - rc  # bubblewrap reports "killed by signal N" as exit code 128 + N
        if not self._came_up() and self.stopped_for is None:
            raise KitError(f"The sandbox failed to start ({self.mode} mode, exit code {rc}): "
                           f"{self.err.text().strip()[:500]}")
        status = self._status(rc)
        stderr = self.err.text()
        if self.stopped_for == "flood":
            stderr += f"\n[sandbox: killed after writing more than {FLOOD_FACTOR}x the output limit]\n"
        return ExecResult(status, self.out.text(), stderr, rc, duration_s, self.mode,
                          truncated=bool(self.out.dropped or self.err.dropped))

    def _came_up(self) -> bool:
        os.set_blocking(self.started_r, False)
        with contextlib.suppress(BlockingIOError):
            return os.read(self.started_r, 1) == b"1"
        return False

    def _status(self, rc: int) -> str:
        if self.stopped_for == "timeout" or rc == -signal.SIGXCPU:
            return "timeout"
        if self.stopped_for == "flood" or rc < 0:
            return "killed"
        if rc == MEMORY_EXIT:
            return "memory"
        return "ok" if rc == 0 else "error"
