"""The first Python the sandbox runs: set limits, drop to the sandbox user, then run the model's code.

Not imported by the kit: `eurus_lib.sandbox.runner` passes this file's text to `python -I -S -c`
inside the sandbox, with the arguments listed in `main`. It keeps to modules that are built in
or already loaded at start-up, so that each run stays fast.
"""

import os
import sys

FILENAME = "main.py"
# A distinct exit code tells the host that the code ran out of memory (status "memory").
MEMORY_EXIT = 90


def main() -> None:
    payload_fd, started_fd, uid, cpu_s, memory, nproc, fsize, nofile = map(int, sys.argv[1:9])
    extra_paths = [p for p in sys.argv[9].split(":") if p]
    code, files = _read_payload(payload_fd)
    _set_limits(cpu_s, memory, nproc, fsize, nofile)
    if uid >= 0:
        _become(uid)
    # Tells the host that the sandbox came up: a run that ends without this byte is a setup failure.
    os.write(started_fd, b"1")
    os.close(started_fd)
    _write_files(files)
    sys.path.extend(extra_paths)
    _run(code)


def _read_payload(fd: int) -> tuple:
    import marshal  # built in

    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return marshal.loads(b"".join(chunks))


def _set_limits(cpu_s: int, memory: int, nproc: int, fsize: int, nofile: int) -> None:
    import resource

    # soft == hard (except CPU, whose soft limit sends SIGXCPU first) so the code cannot raise them.
    limits = [
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),
        (resource.RLIMIT_AS, memory, memory),
        (resource.RLIMIT_NPROC, nproc, nproc),
        (resource.RLIMIT_FSIZE, fsize, fsize),
        (resource.RLIMIT_NOFILE, nofile, nofile),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for which, soft, hard in limits:
        resource.setrlimit(which, (soft, hard))


def _become(uid: int) -> None:
    # Run as root, the sandbox starts with CAP_SETUID/CAP_SETGID only; switching to an unused uid
    # drops them and makes RLIMIT_NPROC hold (the kernel never enforces it for uid 0).
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _write_files(files: dict) -> None:
    for name, data in files.items():
        folder = os.path.dirname(name)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(name, "wb") as f:
            f.write(data)


def _run(code: str) -> None:
    import builtins

    module = type(sys)("__main__")
    module.__file__ = FILENAME
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    sys.argv = [FILENAME]
    # `python -S` skips `site`, which is what normally defines exit() and quit().
    builtins.exit = builtins.quit = sys.exit
    try:
        exec(compile(code, FILENAME, "exec"), module.__dict__)
    except MemoryError as error:
        module.__dict__.clear()  # frees what the code allocated, so that the report itself fits
        _report(error, code)
        sys.exit(MEMORY_EXIT)
    except Exception as error:
        _report(error, code)
        sys.exit(1)


def _report(error: BaseException, code: str) -> None:
    """Print the traceback as `python main.py` would: no launcher frame, at most the last 1000 entries."""
    try:
        import linecache
        import traceback

        linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
        tb = error.__traceback__.tb_next
        # The traceback module would format every frame of a 10**6-deep recursion; the default hook keeps 1000.
        for _ in range(_depth(tb) - 1000):
            tb = tb.tb_next
        traceback.print_exception(type(error), error, tb)
    except MemoryError:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)


def _depth(tb) -> int:
    depth = 0
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    return depth


if __name__ == "__main__":
    main()
