"""Training figures: a logged quantity against steps, and the reward dynamics of the paper's figure 5.

    fig = plot_training_curve(read_jsonl("runs/tiny/sft/log.jsonl"), "loss")
    fig = plot_reward_dynamics({"dpo": dpo_log, "kto": kto_log, "nca": nca_log},
                               paper_final_chosen={"dpo": -1.26, "kto": 0.4, "nca": 0.16})

Both take the per-step rows that `eurus_lib.training.StepLog` writes ({"step", "progress", ...}).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DYNAMICS = (("rewards/chosen", "Rewards/Chosen"), ("rewards/rejected", "Rewards/Rejected"),
            ("rewards/margins", "Margins"))


def plot_training_curve(log: Sequence[dict], key: str, ax=None, title: str | None = None, label: str | None = None):
    """One logged value (e.g. "loss") against the optimizer step."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 3.0))
    else:
        fig = ax.figure
    rows = [r for r in log if key in r]
    ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker=".", label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(key)
    ax.set_title(title or key, fontsize=10)
    return fig


def plot_reward_dynamics(logs: Mapping[str, Sequence[dict]], *, paper_final_chosen: Mapping[str, float] | None = None,
                         axes=None, title: str = "Implicit rewards during preference learning (figure 5 analog)"):
    """Three panels (chosen, rejected, margin) against training progress (%), one line per algorithm.

    The paper's final chosen rewards (figure 5: DPO -1.26, KTO +0.4, NCA +0.16) are marked on the
    right edge of the chosen panel, beside ours, so the sign of each is compared at a glance.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), sharex=True)
    else:
        fig = axes[0].figure
    for k, (name, log) in enumerate(logs.items()):
        color = plt.cm.tab10(k)
        for ax, (key, _) in zip(axes, DYNAMICS):
            rows = [r for r in log if key in r]
            ax.plot([100 * r["progress"] for r in rows], [r[key] for r in rows], color=color, label=name.upper(),
                    alpha=0.9)
        if paper_final_chosen and name in paper_final_chosen:
            axes[0].plot([100], [paper_final_chosen[name]], marker="*", markersize=11, color=color,
                         markeredgecolor="black", linestyle="none", clip_on=False)
    for ax, (_, label) in zip(axes, DYNAMICS):
        ax.axhline(0, color="grey", linewidth=0.7)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("training progress (%)")
    axes[0].set_ylabel("implicit reward β·log(π/π_ref)")
    axes[0].legend(fontsize=8, frameon=False, title="★ paper's final" if paper_final_chosen else None,
                   title_fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
