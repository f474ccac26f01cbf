"""Notebook 05's best-of-N: a small live run with the eval library's functions, the curve to show, and its slider.

    live = live_best_of_n(cfg, run, "cpu", tasks[:4], n_max=4)      # sample, judge, score, build the curve
    shown = curve_source(run, live)                                 # the eval stage's curve, else shipped, else live
    slider = BestOfNSlider(shown.curve); display(slider.widget)     # pick N: the curves redrawn, N marked
    print(slider.text())                                            # the text view, for where widgets do not render

`live_best_of_n` is the eval stage's best-of-N on a few problems: `eval.sampling.sample_n` (one
prefill per prompt, N continuations), the trees' judge (`eval.heldout.judge_samples`), each trained
reward model of the run (`eval.scoring.reward_scores`) and `eval.bestofn.best_of_n_curve` with
Table 9's selectors. It samples from the run's SFT policy, or the base model when the sft stage has
not run, and writes its samples to `<run>/notebooks/05_evaluation/samples.jsonl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..jsonl import write_jsonl

DEMO_FOLDER = ("notebooks", "05_evaluation")
ORACLE = "oracle pass@N"


@dataclass
class Curve:
    curve: dict  # eval.bestofn.best_of_n_curve output
    origin: str  # "run", "sample" or "live"
    note: str


def live_best_of_n(cfg, run, device: str, tasks: Sequence, n_max: int = 4) -> dict:
    """{"curve", "samples", "policy", "reward_models"}: N <= n_max answers per task, judged, reranked."""
    from ..eval.bestofn import best_of_n_curve, standard_selectors
    from ..eval.heldout import conversation, judge_samples
    from ..eval.sampling import sample_n
    from ..policies import heldout_environment, load_trained_policy
    from .samples import sft_policy

    spec, policy_note = sft_policy(run, cfg)
    if spec == cfg.model.policy:
        policy_note = (f"the base model {spec}, because the sft stage has not run in {run.root} (the eval stage samples "
                       "from the SFT policy)")
    model, tok = load_trained_policy(spec, cfg.model, device)
    raw = sample_n(model, tok, [conversation(t) for t in tasks], n_max, temperature=cfg.eval.bon_temperature,
                   top_p=cfg.eval.bon_top_p, max_new_tokens=cfg.eval.max_new_tokens, seed=cfg.run.seed,
                   batch_size=4 * n_max, progress="best-of-N samples")
    del model
    raw = [[{k: v for k, v in s.items() if k != "token_ids"} for s in group] for group in raw]
    samples = judge_samples(tasks, raw, heldout_environment(cfg))
    names = add_rewards(run, cfg, tasks, samples, device)
    ns = [n for n in (1, 2, 4, 8, 16) if n <= n_max]
    curve = best_of_n_curve(samples, [[s["correct"] for s in g] for g in samples], ns, standard_selectors(names),
                            seed=cfg.run.seed)
    write_jsonl(run.root.joinpath(*DEMO_FOLDER, "samples.jsonl"),
                [{"id": t.id, "family": t.family, "samples": g} for t, g in zip(tasks, samples)])
    return {"curve": curve, "samples": samples, "policy": policy_note, "reward_models": names}


def add_rewards(run, cfg, tasks, samples, device: str) -> list[str]:
    """Score every sample with each reward model the rm stage trained (`sample["rewards"]["reward:<objective>"]`)."""
    from ..eval.heldout import conversation
    from ..eval.scoring import reward_scores
    from ..rm.model import load_trained_reward_model, model_folder

    names = []
    for objective in cfg.rm.objectives:
        if not model_folder(run, objective).is_dir():
            continue
        rm, tok = load_trained_reward_model(run, objective, cfg, device)
        prompts = [conversation(t) for t, group in zip(tasks, samples) for _ in group]
        scores = iter(reward_scores(rm, tok, prompts, [s["response"] for g in samples for s in g],
                                    batch_size=cfg.eval.batch_size))
        for group in samples:
            for s in group:
                s.setdefault("rewards", {})[f"reward:{objective}"] = next(scores)
        names.append(f"reward:{objective}")
    return names


def curve_source(run, live: dict | None = None) -> Curve | None:
    """The eval stage's best-of-N curve from this run, else a shipped real run's, else the live one."""
    from .samples import stage_result

    result = stage_result(run, "eval")
    curve = result.read("best_of_n.json") if result else None
    if curve:
        return Curve(curve, result.origin, f"From {result.note} ({curve['problems']} problems, N up to "
                                           f"{max(curve['N'])}).")
    if live:
        return Curve(live["curve"], "live", f"From the live run above ({live['curve']['problems']} problems, N up "
                                            f"to {max(live['curve']['N'])}), because the eval stage has not run in "
                                            f"{run.root} and no shipped result has one.")
    return None


def picks_at(curve: dict, n: int) -> list[tuple[str, float]]:
    """(method, pass@1 of its pick) at N=n, best first; the oracle pass@N last."""
    i = curve["N"].index(n)
    rows = sorted(((name, values[i]) for name, values in curve["pass@1"].items()), key=lambda r: -r[1])
    return rows + [(ORACLE, curve["oracle"][i])]


def picks_markdown(curve: dict, n: int) -> str:
    """A markdown table of the pick accuracies at N=n, with the problem count and a 95% Wilson interval."""
    from ..eval.intervals import wilson_interval

    p = curve["problems"]
    lines = [f"| pick at N={n} | pass@1 (%) | 95% interval | problems |", "|---|---|---|---|"]
    for name, value in picks_at(curve, n):
        low, high = wilson_interval(round(value * p), p)
        lines.append(f"| {name} | {100 * value:.1f} | {100 * low:.0f}-{100 * high:.0f} | {p} |")
    return "\n".join(lines)


def plot_at(curve: dict, n: int):
    """The best-of-N curves (plots.eval.plot_best_of_n) with N=n marked."""
    from ..plots.eval import plot_best_of_n

    fig = plot_best_of_n(curve)
    ax = fig.axes[0]
    ax.axvline(n, color="grey", linestyle=":", linewidth=1.2)
    ax.annotate(f"N={n}", (n, ax.get_ylim()[1]), textcoords="offset points", xytext=(3, -12), fontsize=8, color="grey")
    return fig


class BestOfNSlider:
    """A SelectionSlider over the curve's N values; moving it redraws the figure and the table of picks."""

    def __init__(self, curve: dict):
        import ipywidgets as w

        self.curve = curve
        self.slider = w.SelectionSlider(options=list(curve["N"]), value=curve["N"][-1], description="N",
                                        continuous_update=False)
        self.plot = w.Image(format="png", layout=w.Layout(max_width="640px"))
        self.table = w.HTML()
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = w.VBox([self.slider, self.plot, self.table])
        self.show(self.slider.value)

    def show(self, n: int) -> None:
        import mistune

        from .live import figure_png

        self.plot.value = figure_png(plot_at(self.curve, n))
        self.table.value = mistune.html(picks_markdown(self.curve, n))

    def text(self) -> str:
        """Every N's picks as fixed-width text."""
        names = [name for name, _ in picks_at(self.curve, self.curve["N"][0])]
        head = f"{'pick':<24}" + "".join(f"{f'N={n}':>8}" for n in self.curve["N"])
        rows = []
        for name in names:
            values = self.curve["oracle"] if name == ORACLE else self.curve["pass@1"][name]
            rows.append(f"{name:<24}" + "".join(f"{100 * v:>7.1f}%" for v in values))
        return "\n".join([f"pass@1 of the pick, {self.curve['problems']} problems", head, *rows])
