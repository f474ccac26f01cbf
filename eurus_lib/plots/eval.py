"""Evaluation figures: accuracy per family with intervals, best-of-N curves, success by turn.

    from eurus_lib.eval import compare_policies, best_of_n_curve, success_by_turn
    fig = plot_policy_comparison(compare_policies({"base": base_records, "sft": sft_records}))
    fig = plot_best_of_n(best_of_n_curve(samples, correct, Ns=(1, 2, 4, 8)))    # Figure 4 analog
    fig = plot_success_by_turn({"sft": success_by_turn(sft_multiturn)})         # MINT analog
    save_figure(fig, run.path("figures", "eval_heldout.png"))

Interval bars are the 95% Wilson intervals of `eval.intervals`; with a dozen problems per
family they are wide, and the figure should show that rather than hide it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def plot_policy_comparison(comparison: dict, ax=None, title: str = "Held-out pass@1 (greedy)"):
    """Grouped bars: accuracy per family (and all) for each policy, with Wilson interval bars."""
    import matplotlib.pyplot as plt

    groups, tables = comparison["groups"], comparison["policies"]
    fig, ax = _axes(ax, (1.6 + 1.3 * len(groups) * max(1, len(tables)) / 2, 3.4))
    width = 0.8 / max(1, len(tables))
    for k, (name, table) in enumerate(tables.items()):
        present = [i for i, g in enumerate(groups) if g in table]  # a family a policy was not run on: no bar
        xs = [i + (k - (len(tables) - 1) / 2) * width for i in present]
        cells = [table[groups[i]] for i in present]
        acc = [100 * c["accuracy"] for c in cells]
        err = [[100 * (c["accuracy"] - c["low"]) for c in cells], [100 * (c["high"] - c["accuracy"]) for c in cells]]
        ax.bar(xs, acc, width * 0.92, yerr=err, capsize=3, label=name, color=plt.cm.tab10(k))
    ax.set_xticks(range(len(groups)), [f"{g}\n(n={_n(tables, g)})" for g in groups])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return fig


def plot_best_of_n(curve: dict, ax=None, title: str = "Best-of-N reranking (Figure 4 analog)"):
    """pass@1 of each selector's pick against N (log2 axis), the oracle pass@N dashed above them."""
    fig, ax = _axes(ax, (5.0, 3.4))
    ns = curve["N"]
    for name, values in curve["pass@1"].items():
        ax.plot(ns, [100 * v for v in values], marker="o", label=name)
    ax.plot(ns, [100 * v for v in curve["oracle"]], "k--", marker=".", label="oracle pass@N")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("N (samples per problem)")
    ax.set_ylabel("pass@1 of the pick (%)")
    ax.set_title(f"{title}, {curve['problems']} problems", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return fig


def plot_success_by_turn(rates_by_policy: Mapping[str, Sequence[float]], ax=None,
                         title: str = "Multi-turn success (MINT analog)"):
    """Cumulative success rate at turns 1..k, one line per policy."""
    fig, ax = _axes(ax, (4.6, 3.2))
    for name, rates in rates_by_policy.items():
        ax.plot(range(1, len(rates) + 1), [100 * r for r in rates], marker="o", label=name)
    turns = max((len(r) for r in rates_by_policy.values()), default=1)
    ax.set_xticks(range(1, turns + 1))
    ax.set_xlabel("turn")
    ax.set_ylabel("solved by this turn (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _axes(ax, size):
    import matplotlib.pyplot as plt

    return (ax.figure, ax) if ax is not None else plt.subplots(figsize=size)


def _n(tables: dict, group: str) -> int:
    return max((t[group]["n"] for t in tables.values() if group in t), default=0)
