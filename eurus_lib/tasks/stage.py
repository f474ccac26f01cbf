"""The `tasks` stage: the run's training and held-out problems, written once for every later stage.

    eurus-kit tasks --preset tiny                  # into runs/tiny/tasks/
    eurus-kit tasks --preset tiny tasks.difficulty=1 tasks.n_train=120

Writes `tasks/train.jsonl` (the trees stage grows one tree per problem), `tasks/heldout.jsonl`
(what every evaluation scores: SFT, preference and reward models) and `tasks/decontamination.json`
(the 8-gram check of App. A.3). Deterministic from `run.seed` and the `tasks` settings.
"""

from __future__ import annotations

from collections import Counter

from ..runs import RunDir
from .io import load_splits, save_splits
from .splits import generate_tasks

FOLDER = "tasks"


def run(cfg, run: RunDir) -> dict:
    """Generate the problems of this run and write them to tasks/."""
    splits = generate_tasks(cfg.tasks, cfg.run.seed, progress=True)
    paths = save_splits(splits, run.root / FOLDER)
    return {"train": len(splits.train), "heldout": len(splits.heldout), "removed": splits.report.removed,
            "outputs": [str(p) for p in paths.values()]}


def report(run: RunDir) -> str:
    """Markdown: how many problems of each family and label, and the decontamination summary."""
    folder = run.root / FOLDER
    if not (folder / "train.jsonl").is_file():
        return "No tasks were written in this run folder."
    splits = load_splits(folder)
    rows = ["| split | problems | by family | by label |", "|---|---|---|---|"]
    for name, tasks in (("train", splits.train), ("held-out", splits.heldout)):
        fam = ", ".join(f"{k} {v}" for k, v in sorted(Counter(t.family for t in tasks).items()))
        lab = ", ".join(f"{k} {v}" for k, v in sorted(Counter(t.task for t in tasks).items()))
        rows.append(f"| {name} | {len(tasks)} | {fam} | {lab} |")
    return "\n".join(rows) + f"\n\nDecontamination (8-gram, App. A.3): {splits.report.summary()}"


def load_heldout(run: RunDir):
    """The held-out problems of a run folder, as written by this stage."""
    return load_splits(run.root / FOLDER).heldout
