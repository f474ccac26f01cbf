"""The ipywidgets panel of notebook 04: pick the objective (BT, DR, BT+DR), lr and steps, press Run, watch the rewards.

    panel = RewardPanel(demo)         # demo: a prepared course.rm_demo.RewardDemo
    display(panel.widget)
    panel.run()                       # what the Run button does; also callable without a browser
    print(panel.text())               # the text view, for where widgets do not render

Every field goes through `config.set_value`, the check behind `rm.lr=...` on the command line (lr
and steps through `widgets.config_editor`, the objective as `rm.objectives`). After every optimizer
step the demo scores its view pairs with the model being trained; `RewardView` redraws their chosen
and rejected reward histograms (left) and the mean rewards so far (right), moves the progress bar
and writes the latest values into the status line.
"""

from __future__ import annotations

from collections.abc import Sequence

from .live import figure_png
from .panel import TrainingPanel
from .rm_demo import result_sentence, run_label, view_summary

FIELDS = ["lr", "max_steps"]


def draw_reward_view(views: Sequence[Sequence[dict]], title: str = ""):
    """Left: the view pairs' chosen and rejected rewards at the latest step; right: their means against the step."""
    import matplotlib.pyplot as plt

    from ..plots.rm import plot_reward_distributions

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.4, 3.3), gridspec_kw={"width_ratios": [1.2, 1]})
    step = len(views) - 1
    plot_reward_distributions({f"step {step}": views[-1]}, axes=[left], title=f"Reward model, live: {title}")
    steps = list(range(len(views)))
    for key, color, label in (("chosen_reward", "tab:green", "chosen (correct)"),
                              ("rejected_reward", "tab:red", "rejected (wrong)")):
        right.plot(steps, [sum(r[key] for r in v) / max(1, len(v)) for v in views], marker="o", color=color,
                   label=label)
    right.axhline(0, color="black", linewidth=0.8)
    right.set_xlabel("optimizer step (0: the untrained start)")
    right.set_ylabel("mean reward of the view pairs")
    right.set_xticks(steps)
    right.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


class RewardView:
    """The view pairs' rewards of one run, step by step, as a PNG and as a text table."""

    def __init__(self, untrained: Sequence[dict], total: int, title: str = ""):
        self.views, self.total, self.title, self.losses = [list(untrained)], total, title, {}

    def update(self, step: int, scored: Sequence[dict]) -> None:
        self.views.append(list(scored))

    def record(self, record: dict) -> None:
        self.losses[int(record["step"])] = record.get("loss")

    @property
    def step(self) -> int:
        return len(self.views) - 1

    def png(self) -> bytes:
        return figure_png(draw_reward_view(self.views, self.title))

    def status(self) -> str:
        loss = self.losses.get(self.step)
        return (f"step {self.step}/{self.total}" + (f" · loss {loss:.4f}" if loss is not None else "")
                + f" · {view_summary(self.views[-1])}")

    def text(self) -> str:
        """A fixed-width table, one row per step (step 0: the untrained start)."""
        from ..rm.evaluate import cell

        head = f"{'step':>5} {'loss':>8} {'pair acc':>9} {'chosen>0':>9} {'rejected<0':>11} {'mean c':>8} {'mean r':>8}"
        rows = []
        for step, scored in enumerate(self.views):
            c, loss = cell(scored), self.losses.get(step)
            rows.append(f"{step:>5} {'-' if loss is None else f'{loss:.4f}':>8} {100 * c['accuracy']:>8.0f}% "
                        f"{100 * c['chosen_positive']:>8.0f}% {100 * c['rejected_negative']:>10.0f}% "
                        f"{c['mean_chosen']:>+8.3f} {c['mean_rejected']:>+8.3f}")
        n = len(self.views[0])
        return "\n".join([f"{self.title}: {self.step} of {self.total} steps, {n} view pairs", head, *rows])


class RewardPanel(TrainingPanel):
    section, choice_key, choice_description, fields = "rm", "objectives", "objective", FIELDS

    @property
    def objective(self):
        return self.choice

    def _label(self) -> str:
        return f"{self.cfg.rm.objectives[0].upper()} lr={self.cfg.rm.lr:g}"

    def _start_view(self, steps: int) -> RewardView:
        return RewardView(self.demo.untrained, total=steps, title=self._label())

    def _train(self) -> dict:
        return self.demo.run(on_record=self.view.record, on_scores=self.update)

    def _sentence(self, result: dict) -> str:
        return result_sentence(result)

    def update(self, step: int, scored: Sequence[dict]) -> None:
        """One optimizer step: the view pairs' new rewards, then progress bar, live figure, status line."""
        self.view.update(step, scored)
        self._show(step)


def comparison_views(runs) -> dict[str, list[dict]]:
    """{label: the view pairs' rewards after the run's last step}, for plots.rm.plot_reward_distributions."""
    return {run_label(r): r["views"][-1] for r in runs}
