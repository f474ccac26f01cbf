"""Live training views: step records as they arrive, drawn as a figure (PNG) and as a text table.

    live = LiveLog(draw_rewards, keys=REWARD_COLUMNS, total=4, title="DPO")
    train_algorithm(..., on_record=live.update)     # StepLog calls it after every optimizer step
    live.png(); live.text(); live.status()

    view = LiveFigure(LiveLog(draw_loss, keys=LOSS_COLUMNS, total=4))
    view.show()                                     # a display slot in the notebook ...
    train_sft(..., on_record=view.update)           # ... redrawn after every step

`LiveLog` needs no notebook (tests call `update` with plain dicts); `LiveFigure` fills an IPython
display slot, which both JupyterLab and headless execution (nbclient) update in place. The
preference panel (`course.panel`) shows the same PNG in an ipywidgets Image.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

LOSS_COLUMNS = ("loss", "learning_rate", "mean_token_accuracy")
REWARD_COLUMNS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "loss")


def draw_loss(records: Sequence[dict], title: str = "SFT loss"):
    from ..plots.training import plot_training_curve

    return plot_training_curve(records, "loss", title=title)


def draw_rewards(records: Sequence[dict], title: str = "preference run"):
    """Figure 5's three panels for one run: chosen, rejected and margin against training progress."""
    from ..plots.training import plot_reward_dynamics

    name = str(records[0].get("algorithm", "run")) if records else "run"
    return plot_reward_dynamics({name: records}, title=f"Implicit rewards, live: {title}")


def figure_png(fig, dpi: int = 72) -> bytes:
    """The figure as PNG bytes; the figure is closed, so a long run does not pile up figures."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


class LiveLog:
    """The step records of one training run, as they arrive."""

    def __init__(self, draw: Callable[..., object], keys: Sequence[str], total: int, title: str = ""):
        self.draw, self.keys, self.total, self.title = draw, tuple(keys), total, title
        self.records: list[dict] = []

    def update(self, record: dict) -> None:
        self.records.append(dict(record))

    @property
    def step(self) -> int:
        return int(self.records[-1]["step"]) if self.records else 0

    def png(self) -> bytes:
        return figure_png(self.draw(self.records, title=self.title))

    def status(self) -> str:
        """'step 2/4 · loss 0.693 · rewards/chosen +0.001 ...' for the latest step."""
        if not self.records:
            return f"step 0/{self.total}: waiting for the first optimizer step"
        last = self.records[-1]
        values = " · ".join(f"{k.removeprefix('rewards/')} {last[k]:+.4f}" for k in self.keys if k in last)
        return f"step {self.step}/{self.total} · {values}"

    def text(self, max_rows: int = 12) -> str:
        """A fixed-width table of the logged steps (the last max_rows), for where figures do not render."""
        keys = [k for k in self.keys if any(k in r for r in self.records)]
        head = f"{'step':>5} " + " ".join(f"{k.removeprefix('rewards/'):>12}" for k in keys)
        rows = [f"{int(r['step']):>5} " + " ".join(f"{r[k]:>12.5g}" if k in r else f"{'-':>12}" for k in keys)
                for r in self.records[-max_rows:]]
        title = f"{self.title}: " if self.title else ""
        return "\n".join([f"{title}{len(self.records)} of {self.total} steps logged", head, *rows])


class LiveFigure:
    """A notebook display slot that shows a LiveLog's figure, redrawn after every step."""

    def __init__(self, log: LiveLog):
        self.log, self.handle = log, None

    def show(self) -> None:
        from IPython.display import Markdown, display

        self.handle = display(Markdown(f"*{self.log.status()}*"), display_id=True)

    def update(self, record: dict) -> None:
        from IPython.display import Image

        self.log.update(record)
        if self.handle is not None:
            self.handle.update(Image(self.log.png()))
