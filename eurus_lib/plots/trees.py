"""Tree figures: one preference tree as a diagram, and the depth / correctness statistics of many.

    fig = plot_tree(tree)               # the imbalanced binary tree of paper Fig. 2, for one problem
    fig = plot_tree_stats(stats)        # trajectories ending at each turn, share correct per turn
    save_figure(fig, run.path("figures", "tree_example.png"))

Correct actions are green, incorrect red; the marker tells where an action came from (circle:
sampled, square: annotated from the ground truth, star: the ground-truth action). The spine of
the tree is the chain of rejected actions, each expanded into the next turn; the chosen action
of each turn branches off and ends there. Actions sampled but not picked are small dots.
"""

from __future__ import annotations

GREEN, RED, GREY = "#2e8b57", "#c0392b", "#7f8c8d"
MARKERS = {"sampled": "o", "annotated": "s", "ground_truth": "*"}


def plot_tree(tree, ax=None):
    """Draw one tree (a `eurus_lib.trees.Tree`); returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(2.2 + 1.9 * max(tree.depth, 1), 3.6))
    ax.scatter([0], [0], s=260, c=GREY, marker="D", zorder=3)
    ax.annotate("instruction", (0, 0), xytext=(0, -18), textcoords="offset points", ha="center", fontsize=8)
    parent = (0, 0)
    for turn in tree.turns:
        x = turn.turn
        for k, i in enumerate(i for i in range(len(turn.actions)) if i not in (turn.chosen, turn.rejected)):
            a = turn.actions[i]
            ax.scatter([x + 0.12 * (k % 4) - 0.18], [-0.75 - 0.15 * (k // 4)], s=14, zorder=2,
                       c=GREEN if a.correct else RED, marker=MARKERS.get(a.source, "o"), alpha=0.6)
        for i, y in ((turn.chosen, 1.0), (turn.rejected, 0.0)):
            if i is not None:
                _node(ax, parent, (x, y), turn.actions[i], "chosen" if y else "rejected")
        if turn.rejected is None:
            break
        parent = (x, 0.0)
    _legend(ax)
    ax.set_xlim(-0.6, max(tree.depth, 1) + 0.8)
    ax.set_ylim(-1.5, 1.6)
    ax.set_xticks(range(1, tree.depth + 1), [f"turn {t}" for t in range(1, tree.depth + 1)])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{tree.task['task']} tree {tree.hash[:8]}: depth {tree.depth}, ended {tree.end}", fontsize=9)
    return fig


def _node(ax, parent, xy, action, role: str) -> None:
    color = GREEN if action.correct else RED
    ax.plot([parent[0], xy[0]], [parent[1], xy[1]], color=GREY, lw=1, zorder=1)
    ax.scatter([xy[0]], [xy[1]], s=200 if action.source == "ground_truth" else 120, c=color,
               marker=MARKERS.get(action.source, "o"), zorder=3, edgecolors="black", linewidths=0.5)
    origin = "GT" if action.source == "ground_truth" else action.actor[:14]
    label = f"{role}\n{origin}" + (f"\n{action.error}" if action.error else "")
    ax.annotate(label, xy, xytext=(0, 9 if role == "chosen" else -30), textcoords="offset points",
                ha="center", fontsize=7, color=color)


def _legend(ax) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=GREEN, marker="o", ls="", label="correct"),
               Line2D([], [], color=RED, marker="o", ls="", label="incorrect")]
    handles += [Line2D([], [], color=GREY, marker=m, ls="", label=s.replace("_", " ")) for s, m in MARKERS.items()]
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, ncol=5, bbox_to_anchor=(0, -0.12))


def plot_tree_stats(stats: dict):
    """Left: trees by the turn their trajectory ended, per task type. Right: share of sampled actions correct."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    rows = [r for r in stats["table"] if r["task"] != "Total"]
    turns = list(range(1, stats["max_turns"] + 1))
    bottom = [0] * len(turns)
    for r in rows:
        values = [r[f"T{t}"] for t in turns]
        left.bar(turns, values, bottom=bottom, label=r["task"])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.set(xlabel="turn the trajectory ended at (tree depth)", ylabel="trees", xticks=turns)
    left.legend(fontsize=7, frameon=False)
    shares = [(t["turn"], t["share_correct"]) for t in stats["per_turn"] if t["share_correct"] is not None]
    right.plot([t for t, _ in shares], [100 * s for _, s in shares], marker="o", color=GREEN)
    right.set(xlabel="turn", ylabel="% sampled actions correct", xticks=turns, ylim=(0, 100))
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
