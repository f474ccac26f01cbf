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


class TrainingPanel:
    """A Run button over one demo: a choice dropdown, config fields, progress bar, status line and live plot.

    Subclasses name their config section, the list field the dropdown sets (one value of it), the
    fields shown, and supply `_label`, `_start_view` (the live view of a new run: anything with
    `status`, `text` and `png`), `_train` (call the demo with the callbacks that feed the view) and
    `_sentence` (one line for a finished run).
    """

    section: str
    choice_key: str
    choice_description: str
    fields: list[str]

    def __init__(self, demo):
        import ipywidgets as w

        from ..widgets import config_editor

        self.demo, self.cfg = demo, demo.cfg
        self.view = None
        settings = getattr(self.cfg, self.section)
        self.choice = w.Dropdown(options=list(field_info(self.section, self.choice_key).metadata["choices"]),
                                 value=getattr(settings, self.choice_key)[0], description=self.choice_description)
        self.choice.observe(lambda change: set_value(self.cfg, f"{self.section}.{self.choice_key}", [change["new"]]),
                            names="value")
        self.settings = config_editor(self.cfg, self.section, keys=self.fields)
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.button.on_click(lambda _: self.run())
        self.progress = w.IntProgress(value=0, min=0, max=max(1, settings.max_steps), description="step")
        self.status = w.HTML(f"<i>Press Run to train {self._label()} for {settings.max_steps} steps.</i>")
        self.plot = w.Image(format="png", layout=w.Layout(display="none", max_width="980px"))
        self.widget = w.VBox([self.choice, self.settings, w.HBox([self.button, self.progress]), self.status,
                              self.plot])

    def _label(self) -> str:
        raise NotImplementedError

    def _start_view(self, steps: int):
        raise NotImplementedError

    def _train(self) -> dict:
        raise NotImplementedError

    def _sentence(self, result: dict) -> str:
        raise NotImplementedError

    def run(self) -> dict | None:
        """Train one run with the panel's settings, updating the panel live; None when it could not run."""
        if self.button.disabled:  # a run is already going
            return None
        steps = getattr(self.cfg, self.section).max_steps
        self.view = self._start_view(steps)
        self.progress.max, self.progress.value, self.button.disabled = max(1, steps), 0, True
        self._say(f"training {self._label()} for {steps} steps ...")
        try:
            result = self._train()
        except Exception as exc:  # a button callback's traceback goes to a log few people open: say it here too
            self._say(str(exc) if isinstance(exc, KitError) else f"{type(exc).__name__}: {exc}", error=True)
            if isinstance(exc, KitError):
                return None
            raise
        finally:
            self.button.disabled = False
        self._say(f"{self._sentence(result)} · {self.view.status()}")
        return result

    def _show(self, step: int) -> None:
        """After the view took a new step: progress bar, live figure, status line."""
        self.progress.value = min(self.progress.max, int(step))
        self.plot.value = self.view.png()
        self.plot.layout.display = None
        self._say(f"{self._label()} · {self.view.status()}")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = status_html(text, error)

    def text(self) -> str:
        """The text view: every finished run in one line, then the steps of the latest."""
        lines = [self._sentence(r) for r in self.demo.runs] or ["No run yet."]
        if self.view is not None:
            lines += ["", self.view.text()]
        return "\n".join(lines)


class PreferencePanel(TrainingPanel):
    section, choice_key, choice_description, fields = "prefs", "algorithms", "algorithm", FIELDS

    @property
    def algorithm(self):
        return self.choice

    @property
    def live(self) -> LiveLog | None:
        return self.view

    @live.setter
    def live(self, value: LiveLog | None) -> None:
        self.view = value

    def _label(self) -> str:
        p = self.cfg.prefs
        return f"{p.algorithms[0].upper()} (β={p.beta:g}, lr={p.lr:g})"

    def _start_view(self, steps: int) -> LiveLog:
        return LiveLog(draw_rewards, REWARD_COLUMNS, total=steps, title=self._label())

    def _train(self) -> dict:
        return self.demo.run(on_record=self.update)

    def _sentence(self, result: dict) -> str:
        return result_sentence(result)

    def update(self, record: dict) -> None:
        """One logged step (StepLog's on_record): progress bar, live figure, status line."""
        self.view.update(record)
        self._show(record["step"])


def status_html(text: str, error: bool = False) -> str:
    """A panel's status line: the text escaped, red when it reports an error."""
    color = "#c33" if error else "#333"
    return f"<span style='color:{color}'>{html.escape(text)}</span>"


def comparison_logs(runs) -> dict[str, list[dict]]:
    """{label: step log} of the demo's runs, for plots.training.plot_reward_dynamics."""
    return {run_label(r): r["log"] for r in runs}
