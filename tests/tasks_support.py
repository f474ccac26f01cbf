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


def code_program(task, solution: str | None = None) -> str:
    """A code task's solution followed by its tests, as the sandbox runs an action."""
    return f"{task.solution if solution is None else solution}\n\n{task.tests}\n\ncheck({task.entry_point})\n"


def sample_tasks(generator, difficulties=(1, 3, 5), per_difficulty: int = 12, pool: str = "train") -> list:
    """Tasks of one family over several difficulties, each from its own seed."""
    return [generator(random.Random(f"{d}:{i}"), d, pool=pool) for d in difficulties for i in range(per_difficulty)]
