"""Grow trees for a list of tasks into a folder, resuming whatever an earlier run left there.

    result = build_trees(tasks, run.path("trees"), actors=actors, environment=env, critic=critic,
                         settings=cfg.trees, seed=cfg.run.seed)
    result["outputs"]    # trees.jsonl, sft.jsonl, pairs.jsonl, rm_pairs.jsonl, stats.json

The stage and the notebook both call this; it is the thin layer between the pure growth code
and the files of a run folder (layout in `store.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..jsonl import write_jsonl
from ..ultrainteract import rm_augmented_pairs
from .growth import grow_trees
from .records import pair_rows, sft_rows
from .stats import tree_stats
from .store import TreeStore
from .tree import Tree

FILES = ("trees.jsonl", "sft.jsonl", "pairs.jsonl", "rm_pairs.jsonl", "stats.json")


def build_trees(tasks: Sequence, out_dir: str | Path, *, actors: Sequence, environment, critic, settings,
                seed: int = 0, count_tokens: Callable[[str], int] | None = None, progress: bool = True,
                on_tree: Callable[[Tree], None] | None = None, instruction: Callable | None = None) -> dict:
    """Grow the trees not yet in `out_dir/trees.jsonl`, then rewrite the row files and statistics."""
    out_dir = Path(out_dir)
    store = TreeStore(out_dir / "trees.jsonl")
    done = store.done_ids()
    todo = [t for t in tasks if t.id not in done]
    if progress:
        print(f"[trees] {len(tasks) - len(todo)} of {len(tasks)} trees already in {store.path}; growing {len(todo)}.")

    def keep(tree: Tree) -> None:
        store.append(tree)
        if on_tree is not None:
            on_tree(tree)

    grow_trees(todo, actors=actors, environment=environment, critic=critic, settings=settings, seed=seed,
               on_tree=keep, instruction=instruction, progress=progress)
    wanted = {t.id: k for k, t in enumerate(tasks)}
    trees = sorted((t for t in store.load() if t.parent_id in wanted), key=lambda t: wanted[t.parent_id])
    return write_outputs(trees, out_dir, seed=seed, count_tokens=count_tokens, max_turns=settings.max_turns)


def write_outputs(trees: Sequence[Tree], out_dir: str | Path, *, seed: int = 0,
                  count_tokens: Callable[[str], int] | None = None, max_turns: int = 5) -> dict:
    """Rebuild sft.jsonl, pairs.jsonl, rm_pairs.jsonl and stats.json from the trees."""
    out_dir = Path(out_dir)
    pairs = [r for t in trees for r in pair_rows(t)]
    counts = {
        "sft.jsonl": write_jsonl(out_dir / "sft.jsonl", (r for t in trees for r in sft_rows(t))),
        "pairs.jsonl": write_jsonl(out_dir / "pairs.jsonl", pairs),
        "rm_pairs.jsonl": write_jsonl(out_dir / "rm_pairs.jsonl", rm_augmented_pairs(pairs, seed=seed)),
    }
    stats = tree_stats(trees, count_tokens=count_tokens, max_turns=max_turns)
    stats["rows"] = counts
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=1))
    return {"trees": len(trees), "rows": counts, "stats": stats, "outputs": [str(out_dir / f) for f in FILES]}


def load_trees(out_dir: str | Path) -> list[Tree]:
    """The finished trees in a folder (e.g. `run.path("trees")`)."""
    return TreeStore(Path(out_dir) / "trees.jsonl").load()
