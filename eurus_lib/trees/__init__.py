"""Preference trees (paper section 2): grow UltraInteract-style trees on tasks with ground truth.

    from eurus_lib.trees import build_trees, Environment, RuleCritic, ModelActor, sandbox_executor
    result = build_trees(tasks, run.path("trees"), actors=[actor], environment=env, critic=RuleCritic(),
                         settings=cfg.trees)

Modules, in the order data flows: `actions` (the unified action format and its parser),
`prompts` (what the actor is told; the ground-truth actions), `actor` (models that write
actions), `environment` (run and judge), `critic` / `model_critic` (critiques), `growth` (the
tree procedure), `tree` (the data), `records` (released-format rows),
`store` (append-only, resumable files), `stats` (Table 1), `view` / `explorer` (looking at
trees), `build` (folder in, files out) and `stage` (`eurus-kit trees`).
"""

from .actions import ParsedAction, parse_action
from .actor import ModelActor, OpenAIActor, load_actors
from .build import build_trees, load_trees, write_outputs
from .critic import CritiqueRequest, RuleCritic, rule_critique
from .environment import Environment, Outcome, sandbox_executor
from .growth import grow_trees, select_pair
from .model_critic import ModelCritic, OpenAICritic, make_critic
from .records import distinct_sft_rows, pair_rows, sft_rows
from .stats import stats_markdown, tree_stats
from .store import TreeStore
from .tree import Action, Tree, Turn
from .view import render_tree

__all__ = ["Action", "CritiqueRequest", "Environment", "ModelActor", "ModelCritic", "OpenAIActor", "OpenAICritic",
           "Outcome", "ParsedAction", "RuleCritic", "Tree", "TreeStore", "Turn", "build_trees", "distinct_sft_rows",
           "grow_trees", "load_actors", "load_trees", "make_critic", "pair_rows", "parse_action", "render_tree",
           "rule_critique", "sandbox_executor", "select_pair",
           "sft_rows", "stats_markdown", "tree_stats", "write_outputs"]
