"""Training and held-out problems for a run, decontaminated the paper's way.

    >>> splits = generate_tasks(load_config("tiny").tasks, seed=0)
    >>> len(splits.train), len(splits.heldout), splits.report.final_overlap
    (72, 36, 0)

Held-out problems are generated first, from their own random stream and from the other half
of the name and argument lists (words.POOLS), so no phrase around a name can repeat across
the split. Training candidates are then generated and any that shares an 8-gram with a
held-out problem is removed (paper App. A.3) and replaced by a fresh one, until each family
has its share. The report says how many were removed and checks that the final overlap is 0.
Families are interleaved (math, code, logic, math, ...) so any prefix of the list is balanced.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from ..errors import ConfigError, DataError
from ..progress import progress_bar
from .base import Task
from .code_tasks import code_task
from .decontam import N, first_shared, ngram_index, overlap_count
from .humaneval import humaneval_tasks
from .logic_tasks import logic_task
from .math_tasks import math_task

GENERATORS = {"math": math_task, "code": code_task, "logic": logic_task}
DATASETS = {"math": "tiny-math", "code": "tiny-code", "logic": "tiny-logic"}
MAX_TRIES_PER_TASK = 50


@dataclass
class DecontaminationReport:
    n: int  # n-gram length (8, as in the paper)
    heldout: int  # held-out problems the training set is checked against
    candidates: int  # training problems generated
    duplicates: int  # candidates dropped because the same problem was already in the list
    removed: int  # candidates dropped for sharing an n-gram with a held-out problem
    final_overlap: int  # training problems that still share one: always 0
    by_family: dict = field(default_factory=dict)  # family -> {"candidates", "removed"}
    examples: list = field(default_factory=list)  # a few removals: train id, held-out id, shared n-gram

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.candidates} training candidates, {self.removed} removed for a shared {self.n}-gram with "
                f"{self.heldout} held-out problems, {self.duplicates} duplicates; final overlap {self.final_overlap}.")


@dataclass
class TaskSplits:
    train: list[Task]
    heldout: list[Task]
    report: DecontaminationReport


def generate_tasks(settings, seed: int, *, progress: bool = False) -> TaskSplits:
    """Problems for `settings` (a config.TasksSettings): train, held-out (+ HumanEval), and the report.

    With `progress`, a bar counts problems (difficulty 5 takes about 20 ms a problem)."""
    families = _families(settings)
    with progress_bar(settings.n_train + settings.n_heldout, "tasks", unit="task", enabled=progress) as bar:
        heldout = _interleave([_heldout_family(f, k, settings.difficulty, seed, bar)
                               for f, k in zip(families, _shares(settings.n_heldout, len(families)))])
        heldout += humaneval_tasks(settings.humaneval_heldout) if settings.humaneval_heldout else []
        index = ngram_index(heldout, N)
        report = DecontaminationReport(N, len(heldout), 0, 0, 0, 0)
        train = _interleave([_train_family(f, k, settings.difficulty, seed, index, report, bar)
                             for f, k in zip(families, _shares(settings.n_train, len(families)))])
    report.final_overlap = overlap_count(train, heldout, N)
    return TaskSplits(train, heldout, report)


def family_rng(seed: int, split: str, family: str) -> random.Random:
    """The random stream for one family of one split (string seeds are stable across runs)."""
    return random.Random(f"eurus-kit:{seed}:{split}:{family}")


def _families(settings) -> list[str]:
    unknown = [f for f in settings.families if f not in GENERATORS]
    if unknown or not settings.families:
        raise ConfigError(f"tasks.families={settings.families!r}: choose from {', '.join(GENERATORS)}.")
    return list(dict.fromkeys(settings.families))


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def _heldout_family(family: str, count: int, difficulty: int, seed: int, bar) -> list[Task]:
    rng, tasks, seen = family_rng(seed, "heldout", family), [], set()
    for _ in range(count * MAX_TRIES_PER_TASK):
        if len(tasks) == count:
            break
        task = GENERATORS[family](rng, difficulty, DATASETS[family], pool="heldout")
        if task.id not in seen:
            seen.add(task.id)
            tasks.append(task)
            bar.update()
    return _enough(tasks, count, family, "held-out")


def _train_family(family: str, count: int, difficulty: int, seed: int, index: dict,
                  report: DecontaminationReport, bar) -> list[Task]:
    rng, tasks, seen = family_rng(seed, "train", family), [], set()
    stats = report.by_family.setdefault(family, {"candidates": 0, "removed": 0})
    for _ in range(count * MAX_TRIES_PER_TASK):
        if len(tasks) == count:
            break
        task = GENERATORS[family](rng, difficulty, DATASETS[family], pool="train")
        report.candidates += 1
        stats["candidates"] += 1
        shared = first_shared(task, index, N)
        if task.id in seen:
            report.duplicates += 1
        elif shared:
            report.removed += 1
            stats["removed"] += 1
            if len(report.examples) < 5:
                report.examples.append({"train": task.id, "heldout": shared[1], "ngram": " ".join(shared[0])})
        else:
            seen.add(task.id)
            tasks.append(task)
            bar.update()
    return _enough(tasks, count, family, "training")


def _enough(tasks: list[Task], count: int, family: str, split: str) -> list[Task]:
    if len(tasks) < count:
        raise DataError(f"Only {len(tasks)} of {count} distinct {split} {family} problems could be generated; "
                        f"lower tasks.n_train / tasks.n_heldout or raise tasks.difficulty.")
    return tasks


def _interleave(groups: list[list[Task]]) -> list[Task]:
    out = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out
