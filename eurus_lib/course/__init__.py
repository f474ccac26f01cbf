"""What the course notebooks need that is not a stage: shipped samples, short live demos, live plots.

    from eurus_lib.course.samples import sft_source, pairs_source     # the run's rows, else the shipped sample
    from eurus_lib.course.sft_demo import train_sft_demo              # notebook 02's few-step SFT run
    from eurus_lib.course.prefs_demo import PreferenceDemo            # notebook 03's few-step DPO/KTO/NCA runs
    from eurus_lib.course.panel import PreferencePanel                # its ipywidgets panel
    from eurus_lib.course.rm_demo import RewardDemo                   # notebook 04's few-step reward-model runs
    from eurus_lib.course.rm_panel import RewardPanel                 # its panel, reward histograms redrawn live
    from eurus_lib.course.bon_demo import live_best_of_n, BestOfNSlider   # notebook 05's best-of-N and N slider
    from eurus_lib.course.reproduced import sections, ClaimExplorer   # notebook 06: every result beside the paper

A notebook reuses what the stages wrote into its run folder and never retrains it; when a stage
before it has not run, it starts from `data/samples/` (rows of a real tiny run) and says so.
Its own training is a demo of a few steps (`demo_steps`) in `<run>/notebooks/<notebook>/`,
never in a stage's folder.
"""

from __future__ import annotations

import copy
import os

ENV_DEMO_STEPS = "EURUS_KIT_DEMO_STEPS"
ENV_DEMO_TREES = "EURUS_KIT_DEMO_TREES"
DEMO_STEPS = 4
DEMO_TREES = 8


def demo_steps(default: int = DEMO_STEPS) -> int:
    """Optimizer steps of a notebook's live demo: `EURUS_KIT_DEMO_STEPS` when set (tests set 2), else default."""
    return _whole_number(ENV_DEMO_STEPS, default, "steps")


def demo_trees(default: int = DEMO_TREES) -> int:
    """Trees notebook 01 grows live: `EURUS_KIT_DEMO_TREES` when set (tests set 3), else default."""
    return _whole_number(ENV_DEMO_TREES, default, "trees")


def _whole_number(variable: str, default: int, what: str) -> int:
    raw = os.environ.get(variable, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        from ..errors import ConfigError

        raise ConfigError(f"{variable}={raw!r}; set it to a whole number of {what}, at least 1.")
    return int(raw)


def demo_config(cfg, changes: dict[str, object]):
    """(a copy of cfg with `changes`, "key=value, ..."): each change through config.set_value, as on the CLI.

    The notebooks' demos and widgets work on this copy, so the run's own config stays as recorded.
    """
    from ..config import set_value

    demo = copy.deepcopy(cfg)
    for key, value in changes.items():
        set_value(demo, key, value)
    return demo, ", ".join(f"{k}={v}" for k, v in changes.items())


def settings_line(cfg, keys: list[str]) -> str:
    """'sft.lr=0.0002, sft.max_steps=4': the values a demo will use, for where widgets do not render."""
    parts = []
    for key in keys:
        section, _, name = key.partition(".")
        parts.append(f"{key}={getattr(getattr(cfg, section), name)!r}")
    return ", ".join(parts)
