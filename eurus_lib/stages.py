"""The pipeline's stages, in the order data flows through the kit and the course.

A stage has one name everywhere: the CLI command (`eurus-kit sft`), the config section
(`cfg.sft`, `sft.lr=1e-4`), the package (`eurus_lib.sft`) and the run-folder folder (`sft/`).
Its module `eurus_lib.<name>.stage` defines

    run(cfg: KitConfig, run: RunDir) -> dict    # do the work, return a summary (outputs, stats)
    report(run: RunDir) -> str                  # a markdown section for the run report

and the table below declares its contract: the run-folder files it reads and writes, the
settings that shape its outputs, and the stages it reads from. A stage is re-run only when one
of its settings changes or a stage it reads from produced new outputs (`stage_digest`); changing
`eval.*` never retrains a model. A stage whose module does not exist yet is listed as "not built
yet": `reproduce` skips it and the report says so plainly, rather than inventing output for it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass

from .config import KitConfig
from .runs import RunDir


@dataclass(frozen=True)
class Stage:
    name: str  # CLI command == config section == package eurus_lib.<name> == run-folder folder
    title: str
    notebook: str
    paper: str
    reads: tuple[str, ...]  # run-folder paths it reads, written by the stages in `after`
    writes: tuple[str, ...]  # run-folder folders ('sft/') and file patterns it writes, set aside
    #                         before a fresh run so old and new outputs never mix
    settings: tuple[str, ...]  # config sections or section.key fields that shape its outputs
    after: tuple[str, ...] = ()  # stages whose outputs it reads
    main_process_only: bool = True  # False: every process of `accelerate launch` runs it (training)

    @property
    def module(self) -> str:
        return f"eurus_lib.{self.name}.stage"

    def is_built(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False

    def load(self):
        return importlib.import_module(self.module)

    @property
    def run_fn(self) -> Callable[[KitConfig, RunDir], dict]:
        return self.load().run

    @property
    def report_fn(self) -> Callable[[RunDir], str]:
        return self.load().report


MODEL_LOADING = ("model.dtype", "model.load_in_4bit", "model.nf4_kernels")
POLICY = ("model",)
# The training stages score their policies on the held-out problems with these eval settings.
HELDOUT_SCORING = ("eval.max_problems", "eval.temperature", "eval.max_new_tokens")

STAGES: list[Stage] = [
    Stage("tasks", "Problems with ground truth", "01_preference_trees.ipynb", "section 2.1, App. A.3",
          reads=(), writes=("tasks/",), settings=("tasks",)),
    Stage("trees", "Preference trees (UltraInteract)", "01_preference_trees.ipynb", "section 2",
          reads=("tasks/train.jsonl",),
          writes=("trees/", "figures/trees_stats.png", "figures/trees_example.png"),
          settings=("trees", *MODEL_LOADING), after=("tasks",)),
    Stage("sft", "Supervised fine-tuning", "02_sft.ipynb", "section 3, table 3",
          reads=("trees/sft.jsonl", "tasks/heldout.jsonl"), writes=("sft/", "figures/sft_*.png"),
          settings=(*POLICY, "sft", *HELDOUT_SCORING), after=("tasks", "trees"), main_process_only=False),
    Stage("prefs", "Preference learning: DPO, KTO, NCA", "03_preference_learning.ipynb",
          "sections 3 and 6.1, figure 5, table 3",
          reads=("trees/pairs.jsonl", "sft/model/", "tasks/heldout.jsonl"), writes=("prefs/", "figures/prefs_*.png"),
          settings=(*POLICY, "prefs", *HELDOUT_SCORING), after=("tasks", "trees", "sft"), main_process_only=False),
    Stage("rm", "Reward model: L_BT + L_DR", "04_reward_model.ipynb", "sections 3 and 5, table 4",
          reads=("trees/pairs.jsonl", "trees/rm_pairs.jsonl", "sft/model/", "tasks/heldout.jsonl"),
          writes=("rm/", "figures/rm_*.png"), settings=(*POLICY, "rm", *HELDOUT_SCORING), after=("tasks", "trees", "sft"),
          main_process_only=False),
    Stage("eval", "Evaluation, best-of-N and multi-turn", "05_evaluation.ipynb",
          "sections 4 and 5, figure 4, table 9",
          reads=("tasks/heldout.jsonl", "sft/model/"), writes=("eval/", "figures/eval_*.png"),
          settings=(*MODEL_LOADING, "eval"), after=("tasks", "sft", "prefs", "rm")),
]
STAGE_NAMES = [s.name for s in STAGES]


def get_stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)


def stage_settings(stage: Stage, cfg: KitConfig) -> dict:
    """The values of the settings a stage reads (plus the seed), as plain data."""
    data = cfg.to_dict()
    out = {"run.seed": cfg.run.seed}
    for key in stage.settings:
        section, _, field = key.partition(".")
        out[key] = data[section][field] if field else data[section]
    return out


def stage_digest(stage: Stage, cfg: KitConfig) -> str:
    """Short hash of a stage's own settings and, recursively, those of the stages it reads from."""
    upstream = {name: stage_digest(get_stage(name), cfg) for name in stage.after}
    blob = json.dumps({"settings": stage_settings(stage, cfg), "after": upstream}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
