"""Reward-model figures: chosen and rejected reward distributions per objective, and training dynamics.

    fig = plot_reward_distributions({"bt+dr": scored, "bt": scored_bt, "dr": scored_dr})
    fig = plot_rm_training({"bt+dr": read_jsonl("runs/tiny/rm/bt+dr/log.jsonl"), ...})

`scored` rows are `eurus_lib.rm.evaluate.score_pairs` output ({"chosen_reward", "rejected_reward"}).
The distributions figure is the paper's argument for L_DR (section 3) made visible: with L_DR the
correct answers' rewards should sit right of 0 and the wrong answers' left of it; Bradley-Terry
alone only asks that they be apart, wherever 0 falls. Overlapping histograms mean the model cannot
tell them apart, which is the honest picture when a tiny model scores near chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

OBJECTIVE_LABELS = {"bt+dr": "L_BT + L_DR (Eurus-RM)", "bt": "L_BT only (w/o L_DR)", "dr": "L_DR only (w/o L_BT)"}


def plot_reward_distributions(scored_by_objective: Mapping[str, Sequence[dict]], axes=None,
                              title: str = "Held-out rewards: correct (chosen) vs wrong (rejected) answers"):
    """One panel per objective: histograms of chosen and rejected rewards on shared bins, a line at 0."""
    import matplotlib.pyplot as plt
    import numpy as np

    k = max(1, len(scored_by_objective))
    if axes is None:
        fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.3), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, (name, rows) in zip(axes, scored_by_objective.items()):
        chosen = [r["chosen_reward"] for r in rows]
        rejected = [r["rejected_reward"] for r in rows]
        values = chosen + rejected or [0.0]
        bins = np.linspace(min(min(values), 0.0), max(max(values), 0.0), 21)
        ax.hist(chosen, bins=bins, alpha=0.6, color="tab:green", label=f"chosen: correct (n={len(chosen)})")
        ax.hist(rejected, bins=bins, alpha=0.6, color="tab:red", label=f"rejected: wrong (n={len(rejected)})")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{OBJECTIVE_LABELS.get(name, name)}\n{_caption(chosen, rejected)}", fontsize=9)
        ax.set_xlabel("reward (head output)")
    axes[0].set_ylabel("answers")
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _caption(chosen: Sequence[float], rejected: Sequence[float]) -> str:
    n = len(chosen)
    if not n:
        return "no pairs"
    acc = sum(c > r for c, r in zip(chosen, rejected)) / n
    pos = sum(c > 0 for c in chosen) / n
    neg = sum(r < 0 for r in rejected) / n
    return f"pair acc. {100 * acc:.0f}%, chosen > 0: {100 * pos:.0f}%, rejected < 0: {100 * neg:.0f}%"


def plot_rm_training(logs: Mapping[str, Sequence[dict]], axes=None,
                     title: str = "Reward-model training: batch mean rewards per step"):
    """Chosen reward, rejected reward and margin against training progress, one line per objective."""
    from .training import plot_reward_dynamics

    fig = plot_reward_dynamics(logs, axes=axes, title=title)  # legend: the objectives in capitals, BT+DR, BT, DR
    fig.axes[0].set_ylabel("reward (head output)")
    return fig
