"""The ipywidgets panel of notebook 03: pick an algorithm, β, learning rate and steps, press Run, watch the rewards.

    panel = PreferencePanel(demo)     # demo: a prepared course.prefs_demo.PreferenceDemo
    display(panel.widget)
    panel.run()                       # what the Run button does; also callable without a browser
    print(panel.text())               # the text view, for where widgets do not render

Every field goes through `config.set_value`, the check behind `section.key=value` on the command
line: β, learning rate and steps through `widgets.config_editor` (a rejected value shows its
error under the fields and leaves the config unchanged), the algorithm as `prefs.algorithms`.
During a run, `update` (StepLog's on_record) moves the progress bar, redraws the three reward
panels of figure 5 (chosen, rejected, margin) and writes the latest values into the status line.
"""

from __future__ import annotations

import html

from ..config import field_info, set_value
from ..errors import KitError
from .live import REWARD_COLUMNS, LiveLog, draw_rewards
from .prefs_demo import result_sentence, run_label

FIELDS = ["beta", "lr", "max_steps"]


class PreferencePanel:
    def __init__(self, demo):
        import ipywidgets as w

        from ..widgets import config_editor

        self.demo, self.cfg = demo, demo.cfg
        self.live: LiveLog | None = None
        self.algorithm = w.Dropdown(options=list(field_info("prefs", "algorithms").metadata["choices"]),
                                    value=self.cfg.prefs.algorithms[0], description="algorithm")
        self.algorithm.observe(self._on_algorithm, names="value")
        self.settings = config_editor(self.cfg, "prefs", keys=FIELDS)
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.button.on_click(lambda _: self.run())
        self.progress = w.IntProgress(value=0, min=0, max=max(1, self.cfg.prefs.max_steps), description="step")
        self.status = w.HTML(f"<i>Press Run to train {self._label()} for {self.cfg.prefs.max_steps} steps.</i>")
        self.plot = w.Image(format="png", layout=w.Layout(display="none", max_width="980px"))
        self.widget = w.VBox([self.algorithm, self.settings, w.HBox([self.button, self.progress]), self.status,
                              self.plot])

    def _label(self) -> str:
        p = self.cfg.prefs
        return f"{p.algorithms[0].upper()} (β={p.beta:g}, lr={p.lr:g})"

    def _on_algorithm(self, change) -> None:
        set_value(self.cfg, "prefs.algorithms", [change["new"]])

    def run(self) -> dict | None:
        """Train one run with the panel's settings, updating the panel live; None when it could not run."""
        if self.button.disabled:  # a run is already going
            return None
        steps = self.cfg.prefs.max_steps
        self.live = LiveLog(draw_rewards, REWARD_COLUMNS, total=steps, title=self._label())
        self.progress.max, self.progress.value, self.button.disabled = max(1, steps), 0, True
        self._say(f"training {self._label()} for {steps} steps ...")
        try:
            result = self.demo.run(on_record=self.update)
        except Exception as exc:  # a button callback's traceback goes to a log few people open: say it here too
            self._say(str(exc) if isinstance(exc, KitError) else f"{type(exc).__name__}: {exc}", error=True)
            if isinstance(exc, KitError):
                return None
            raise
        finally:
            self.button.disabled = False
        self._say(f"{result_sentence(result)} · {self.live.status()}")
        return result

    def update(self, record: dict) -> None:
        """One logged step: progress bar, live figure, status line."""
        self.live.update(record)
        self.progress.value = min(self.progress.max, int(record["step"]))
        self.plot.value = self.live.png()
        self.plot.layout.display = None
        self._say(f"{self._label()} · {self.live.status()}")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = status_html(text, error)

    def text(self) -> str:
        """The text view: every finished run in one line, then the steps of the latest."""
        lines = [result_sentence(r) for r in self.demo.runs] or ["No run yet."]
        if self.live is not None:
            lines += ["", self.live.text()]
        return "\n".join(lines)


def status_html(text: str, error: bool = False) -> str:
    """A panel's status line: the text escaped, red when it reports an error."""
    color = "#c33" if error else "#333"
    return f"<span style='color:{color}'>{html.escape(text)}</span>"


def comparison_logs(runs) -> dict[str, list[dict]]:
    """{label: step log} of the demo's runs, for plots.training.plot_reward_dynamics."""
    return {run_label(r): r["log"] for r in runs}
