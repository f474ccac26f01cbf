"""Task lists on disk, one JSON object per line.

    >>> save_tasks(tasks, "runs/tiny/tasks/train.jsonl")
    >>> load_tasks("runs/tiny/tasks/train.jsonl") == tasks
    True
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError
from .base import Task


def save_tasks(tasks: list[Task], path: str | Path) -> Path:
    """Write `tasks` as JSONL (parent folders are created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for task in tasks:
            f.write(json.dumps(task.to_dict(), ensure_ascii=False) + "\n")
    return path


def load_tasks(path: str | Path) -> list[Task]:
    """Read tasks written by `save_tasks`; a bad line raises DataError naming the file and line."""
    path = Path(path)
    tasks = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                tasks.append(Task.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as exc:
                raise DataError(f"{path}, line {lineno}: not a task row ({exc}).") from exc
    return tasks
