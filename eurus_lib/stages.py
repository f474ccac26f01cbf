"""The pipeline's stages, in the order data flows through the kit and the course.

Each stage lives in its own module, which defines

    run(cfg: KitConfig, run: RunDir) -> dict    # do the work, return a summary (outputs, stats)
    report(run: RunDir) -> str                  # a markdown section for the run report

A stage whose module does not exist yet is listed as "not built yet": `reproduce` skips it and
the report says so plainly, rather than inventing output for it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from .config import KitConfig
from .runs import RunDir


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    module: str
    notebook: str
    paper: str

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


STAGES: list[Stage] = [
    Stage("trees", "Preference trees (UltraInteract)", "eurus_lib.trees.stage", "01_preference_trees.ipynb",
          "section 2"),
    Stage("sft", "Supervised fine-tuning", "eurus_lib.sft.stage", "02_sft.ipynb", "section 3"),
    Stage("prefs", "Preference learning: DPO, KTO, NCA", "eurus_lib.preference.stage",
          "03_preference_learning.ipynb", "sections 3 and 6.1, figure 5"),
    Stage("rm", "Reward model: L_BT + L_DR", "eurus_lib.reward.stage", "04_reward_model.ipynb",
          "sections 3 and 5, table 4"),
    Stage("eval", "Evaluation and best-of-N reranking", "eurus_lib.evaluation.stage", "05_evaluation.ipynb",
          "sections 4 and 5, figure 4"),
]
STAGE_NAMES = [s.name for s in STAGES]


def get_stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)
