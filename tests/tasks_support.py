"""Helpers for the task tests: run programs in fresh interpreters, a few at a time."""

from __future__ import annotations

import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def run_program(source: str, timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Run `source` with plain `sys.executable` (isolated mode) and capture its output."""
    return subprocess.run([sys.executable, "-I", "-c", source], capture_output=True, text=True, timeout=timeout)


def run_programs(sources: list[str], workers: int = 4) -> list[subprocess.CompletedProcess]:
    """Run many programs, each in its own process, `workers` at a time (threads just wait on them)."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run_program, sources))


def run_code_tasks(tasks, solutions: list[str] | None = None) -> list:
    """Each code task's solution (or the given one) against its tests, judged as the trees judge an action:
    through the sandbox's unit-test program, so `.passed` means check() ran to its end."""
    from eurus_lib.sandbox import run_humaneval

    problems = [{"prompt": "", "test": t.tests, "entry_point": t.entry_point} for t in tasks]
    solutions = [t.solution for t in tasks] if solutions is None else solutions
    return run_humaneval(problems, [s + "\n" for s in solutions], timeout_s=20)


def sample_tasks(generator, difficulties=(1, 3, 5), per_difficulty: int = 12, pool: str = "train") -> list:
    """Tasks of one family over several difficulties, each from its own seed."""
    return [generator(random.Random(f"{d}:{i}"), d, pool=pool) for d in difficulties for i in range(per_difficulty)]
