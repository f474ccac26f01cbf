"""Task lists on disk, one JSON object per line; a run's splits as one folder.

    >>> save_tasks(tasks, "runs/tiny/tasks/train.jsonl")
    >>> load_tasks("runs/tiny/tasks/train.jsonl") == tasks
    True
    >>> save_splits(splits, "runs/tiny/tasks")     # train.jsonl, heldout.jsonl, decontamination.json
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError
from ..jsonl import iter_jsonl, write_jsonl
from .base import Task

SPLIT_FILES = {"train": "train.jsonl", "heldout": "heldout.jsonl", "report": "decontamination.json"}


def save_tasks(tasks: list[Task], path: str | Path) -> Path:
    """Write `tasks` as JSONL, atomically (parent folders are created), and return the path."""
    write_jsonl(path, (task.to_dict() for task in tasks))
    return Path(path)


def load_tasks(path: str | Path) -> list[Task]:
    """Read tasks written by `save_tasks`; a bad line raises DataError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; write it with save_tasks (the `tasks` stage) first.")
    tasks = []
    for lineno, row in iter_jsonl(path):
        try:
            tasks.append(Task.from_dict(row))
        except TypeError as exc:
            raise DataError(f"{path}, line {lineno}: not a task row ({exc}).") from exc
    return tasks


def save_splits(splits, folder: str | Path, *, quiet: bool = False) -> dict[str, Path]:
    """Write a `TaskSplits` to `folder` (train.jsonl, heldout.jsonl, decontamination.json) and say where."""
    folder = Path(folder)
    paths = {
        "train": save_tasks(splits.train, folder / SPLIT_FILES["train"]),
        "heldout": save_tasks(splits.heldout, folder / SPLIT_FILES["heldout"]),
        "report": folder / SPLIT_FILES["report"],
    }
    paths["report"].write_text(json.dumps(splits.report.to_dict(), indent=2) + "\n")
    if not quiet:
        print(f"[tasks] wrote {len(splits.train)} training and {len(splits.heldout)} held-out problems to {folder}; "
              f"{splits.report.summary()}")
    return paths


def load_splits(folder: str | Path):
    """Read back what `save_splits` wrote, as a `TaskSplits`."""
    from .splits import DecontaminationReport, TaskSplits

    folder = Path(folder)
    report = json.loads((folder / SPLIT_FILES["report"]).read_text())
    return TaskSplits(load_tasks(folder / SPLIT_FILES["train"]), load_tasks(folder / SPLIT_FILES["heldout"]),
                      DecontaminationReport(**report))
