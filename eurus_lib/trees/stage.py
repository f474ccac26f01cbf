"""The `trees` stage: grow UltraInteract-style preference trees on the run's training tasks.

    eurus-kit trees --preset tiny                  # into runs/tiny/trees/
    eurus-kit trees --preset tiny trees.max_trees=8 trees.max_turns=3

Reads the training problems of the `tasks` stage (`tasks/train.jsonl`) and writes
`trees/trees.jsonl` (every action, observation, critique and source), the released-format
`trees/sft.jsonl` and `trees/pairs.jsonl`, the RM augmentation `trees/rm_pairs.jsonl` and
`trees/stats.json`, plus two figures. The actors and the critic are `trees.actors` and
`trees.critic`, kept apart from the policy that later stages train (the paper grew its trees with
strong instruct models and trained a base model). Interrupt it at any time and run the same
command again: finished trees are kept and only the rest are grown. With `--force` or changed
settings the pipeline sets the old trees aside first, so trees of different settings never mix.
"""

from __future__ import annotations

import json

from ..errors import ConfigError
from ..hardware import pick_device
from ..runs import RunDir
from .build import build_trees, load_trees
from .view import render_tree

FIGURES = {"tree": "trees_example.png", "stats": "trees_stats.png"}


def run(cfg, run: RunDir) -> dict:
    """Generate the tasks, load actors, critic and sandbox, grow the trees, draw the figures."""
    from ..tasks import load_tasks
    from .actor import load_actors
    from .environment import Environment, sandbox_executor
    from .model_critic import make_critic

    settings = cfg.trees
    if not settings.actors:
        raise ConfigError("trees.actors is empty; name at least one actor model (e.g. trees.actors=embedded:smollm2-135m).")
    tasks = load_tasks(run.root / "tasks" / "train.jsonl")
    tasks = tasks[: settings.max_trees] if settings.max_trees else tasks
    device, _ = pick_device(cfg)
    actors = load_actors(settings, cfg.model, device)
    critic = make_critic(settings.critic, settings, cfg.model, device)
    env = Environment(sandbox_executor(timeout_s=settings.sandbox_timeout_s, memory_mb=settings.sandbox_memory_mb),
                      observation_chars=settings.observation_chars, timeout_s=settings.sandbox_timeout_s)
    result = build_trees(tasks, run.path("trees"), actors=actors, environment=env, critic=critic, settings=settings,
                         seed=cfg.run.seed, count_tokens=token_counter(actors))
    figures = draw_figures(run, result["stats"])
    outputs = result["outputs"] + figures
    turn1 = result["stats"]["turn1_correct_share"]
    print(f"[trees] {result['trees']} trees: {result['rows']['sft.jsonl']} SFT rows, {result['rows']['pairs.jsonl']} "
          f"pairs, {result['rows']['rm_pairs.jsonl']} RM pairs; sampled actions correct at turn 1: "
          f"{'-' if turn1 is None else f'{turn1:.1%}'}; written to {run.path('trees')}")
    return {"trees": result["trees"], "rows": result["rows"], "turn1_correct_share": turn1,
            "sources": result["stats"]["sources"], "outputs": outputs}


def token_counter(actors):
    """Count tokens with the first local actor's tokenizer (Table 1's tokens per trajectory); else words."""
    tok = next((a.tokenizer for a in actors if hasattr(a, "tokenizer")), None)
    if tok is None:
        return None
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def draw_figures(run: RunDir, stats: dict) -> list[str]:
    """The statistics figure and the diagram of one example tree (the deepest, first such)."""
    from ..plots import save_figure
    from ..plots.trees import plot_tree, plot_tree_stats

    trees = load_trees(run.path("trees"))
    if not trees:
        return []
    paths = [save_figure(plot_tree_stats(stats), run.path("figures", FIGURES["stats"]))]
    paths.append(save_figure(plot_tree(example_tree(trees)), run.path("figures", FIGURES["tree"])))
    return [str(p) for p in paths]


def example_tree(trees):
    """A tree worth showing: the deepest one with the most pairs (ties: the first)."""
    return max(trees, key=lambda t: (t.depth, sum(x.chosen is not None and x.rejected is not None for x in t.turns)))


def report(run: RunDir) -> str:
    """Markdown for the run report: Table 1 statistics, figures and one tree as text."""
    from .stats import stats_markdown

    stats_path = run.root / "trees" / "stats.json"
    if not stats_path.is_file():
        return "No trees were written in this run folder."
    stats = json.loads(stats_path.read_text())
    trees = load_trees(run.root / "trees")
    rows = stats.get("rows", {})
    parts = [f"{len(trees)} trees grown: {rows.get('sft.jsonl', 0)} SFT rows (`trees/sft.jsonl`), "
             f"{rows.get('pairs.jsonl', 0)} multi-turn pairs (`trees/pairs.jsonl`), {rows.get('rm_pairs.jsonl', 0)} "
             "augmented RM pairs (`trees/rm_pairs.jsonl`). Layout as in the paper's Table 1 "
             "(T_k: trajectories ending at turn k):", "", stats_markdown(stats), ""]
    for key, caption in (("stats", "Trees by depth, and share of sampled actions correct per turn"),
                         ("tree", "An example tree")):
        if (run.root / "figures" / FIGURES[key]).is_file():
            parts += [f"![{caption}](../figures/{FIGURES[key]})", ""]
    if trees:
        parts += ["An example tree (✓ correct, ✗ incorrect):", "", "```text", render_tree(example_tree(trees)),
                  "```"]
    return "\n".join(parts)
