"""Evaluation figures draw what they are given: one bar per policy and family, one line per selector or policy."""

import matplotlib

matplotlib.use("Agg")

from eurus_lib.eval.heldout import compare_policies  # noqa: E402
from eurus_lib.plots.eval import plot_best_of_n, plot_policy_comparison, plot_success_by_turn  # noqa: E402


def test_policy_comparison_has_a_bar_and_an_interval_per_policy_and_family():
    rows = [{"family": "math", "correct": True}, {"family": "code", "correct": False}]
    fig = plot_policy_comparison(compare_policies({"base": rows, "sft": rows[:1]}))
    ax = fig.axes[0]
    heights = [round(p.get_height()) for p in ax.patches]
    assert heights == [0, 100, 50, 100, 100]  # base: code, math, all; sft: math, all (it has no code problems)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["code\n(n=1)", "math\n(n=1)", "all\n(n=2)"]


def test_best_of_n_plot_draws_each_selector_and_a_dashed_oracle():
    curve = {"N": [1, 2, 4], "problems": 3, "pass@1": {"random": [0.2, 0.2, 0.2], "RM bt+dr": [0.2, 0.3, 0.4]},
             "oracle": [0.2, 0.4, 0.6]}
    ax = plot_best_of_n(curve).axes[0]
    assert [line.get_label() for line in ax.lines] == ["random", "RM bt+dr", "oracle pass@N"]
    assert ax.lines[-1].get_linestyle() == "--" and list(ax.lines[-1].get_ydata()) == [20, 40, 60]


def test_success_by_turn_plot_has_one_line_per_policy():
    ax = plot_success_by_turn({"sft": [0.1, 0.2, 0.2], "kto": [0.1, 0.3, 0.4]}).axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[10, 20, 20], [10, 30, 40]]
