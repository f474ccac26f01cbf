"""Notebook 06: every table and figure a run reproduced, each beside the paper's numbers, then the verdicts.

    for section in sections(run):              # Table 1, Figure 5, Table 3, Table 4, Figure 4, MINT
        print(section.title, section.note)     # where the numbers come from, or "not measured: run ..."
        display(Markdown(section.markdown)); section.figure and section.figure()
    verdict_markdown(verdict_rows(run))        # eurus_lib.verdicts: the table that closes the report

Each section reads what its stage wrote in the run folder, else what a real tiny run wrote, shipped
in `data/samples/results/` (`samples.stage_result`), and says which; when neither has it, the
section says the claim is not measured and which command measures it. Nothing here computes a new
number: the tables and figures are the stages' own helpers on the stages' own files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .samples import SAMPLES, StageResult, stage_result

# Paper Table 1, Total row (eurus-paper.md 1.2): instructions, trajectories ending at turn 1..5, pairs, correct actions.
PAPER_TABLE1 = {"instructions": 85918, "T1": 163671, "T2": 12199, "T3": 4756, "T4": 2014, "T5": 15063,
                "pairs": 219819, "correct": 286979}


@dataclass
class Section:
    title: str
    paper: str  # where the paper shows it
    stage: str  # the stage that measures it
    measured: bool
    note: str  # where the numbers come from, or what to run
    markdown: str = ""
    figure: Callable[[], object] | None = None  # draws the figure (matplotlib) when called


def _missing(title: str, paper: str, stage: str, what: str = "") -> Section:
    return Section(title, paper, stage, False, f"not measured: run `eurus-kit {stage}`" + (f" ({what})" if what else "")
                   + " in this run folder, or `make reproduce` for every stage.")


def _stage_file(run, samples: Path, stage: str, name: str):
    """(the stage's result, one of its files read) from the run folder, else the shipped run; (None, None) if neither."""
    result = stage_result(run, stage, samples)
    return result, (result.read(name) if result else None)


def _from(result: StageResult) -> str:
    return f"From {result.note}."


def table1(run, samples: Path = SAMPLES) -> Section:
    from ..plots.trees import plot_tree_stats
    from ..trees.stats import stats_markdown

    title, paper = "Table 1: the preference trees", "§2, Table 1"
    result = stage_result(run, "trees", samples)
    if result is None:
        return _missing(title, paper, "trees")
    stats = result.summary
    p = PAPER_TABLE1
    paper_row = (f"Paper, total: {p['instructions']:,} instructions; trajectories ending at turns 1-5: "
                 f"{p['T1']:,} / {p['T2']:,} / {p['T3']:,} / {p['T4']:,} / {p['T5']:,}; {p['pairs']:,} pairs; "
                 f"{p['correct']:,} correct actions.")
    return Section(title, paper, "trees", True, _from(result), stats_markdown(stats) + "\n\n" + paper_row,
                   lambda: plot_tree_stats(stats))


def figure5(run, samples: Path = SAMPLES) -> Section:
    from ..plots.training import plot_reward_dynamics
    from ..prefs.paper import FINAL_CHOSEN

    title, paper = "Figure 5: reward dynamics of DPO, KTO and NCA", "§6.1, Figure 5"
    result = stage_result(run, "prefs", samples)
    if result is None or not result.logs:
        return _missing(title, paper, "prefs")
    lines = ["| algorithm | steps | final chosen (± SE) | final rejected | final margin | paper's final chosen |",
             "|---|---|---|---|---|---|"]
    for algo, d in result.summary.get("dynamics", {}).items():
        c, r, m = ((d.get(k) or {}) for k in ("rewards/chosen", "rewards/rejected", "rewards/margins"))
        lines.append(f"| {algo.upper()} | {d.get('steps')} | {_num(c.get('mean'))} ± {_num(c.get('se'), sign=False)} | "
                     f"{_num(r.get('mean'))} | {_num(m.get('mean'))} | {FINAL_CHOSEN.get(algo, float('nan')):+.2f} |")
    logs = result.logs
    return Section(title, paper, "prefs", True, _from(result), "\n".join(lines),
                   lambda: plot_reward_dynamics(logs, paper_final_chosen=FINAL_CHOSEN))


def table3(run, samples: Path = SAMPLES) -> Section:
    """The eval stage's table over every policy; else the prefs stage's own (SFT, DPO, KTO, NCA)."""
    from ..eval.heldout import comparison_markdown
    from ..plots.eval import plot_policy_comparison
    from ..prefs.paper import table3_rows

    title, paper = "Table 3: held-out pass@1 of every policy", "§4.1, Table 3"
    result = stage_result(run, "eval", samples)
    comparison = result.summary if result else None
    if not (comparison or {}).get("policies"):
        result = stage_result(run, "prefs", samples)
        comparison = (result.summary.get("heldout") if result else None) or {}
    if not comparison.get("policies"):
        return _missing(title, paper, "eval", "or `eurus-kit prefs`")
    return Section(title, paper, "eval", True, _from(result), comparison_markdown(comparison, paper=table3_rows()),
                   lambda: plot_policy_comparison(comparison, title="Held-out pass@1 (Table 3 analog)"))


def table4(run, samples: Path = SAMPLES) -> Section:
    from ..plots.rm import plot_reward_distributions
    from ..rm.report import table4 as table4_markdown
    from ..rm.report import table4_note, verdicts

    title, paper = "Table 4: the reward model and its ablations", "§5.1, Table 4"
    result = stage_result(run, "rm", samples)
    if result is None:
        return _missing(title, paper, "rm")
    s = result.summary
    scored = {o: [r for r in (result.read(f"{o}/heldout_scores.jsonl") or []) if r.get("kind") == "ground_truth"]
              for o in s["objectives"]}
    text = "\n".join([table4_markdown(s), "", table4_note(), "", *[f"- {v}" for v in verdicts(s)]])
    draw = (lambda: plot_reward_distributions(scored)) if any(scored.values()) else None
    return Section(title, paper, "rm", True, _from(result), text, draw)


def figure4(run, samples: Path = SAMPLES) -> Section:
    from ..eval.report import PAPER_BON_GSM8K
    from ..plots.eval import plot_best_of_n

    title, paper = "Figure 4 / Table 9: best-of-N reranking", "§5.2, Figure 4, Table 9"
    result, curve = _stage_file(run, samples, "eval", "best_of_n.json")
    if not curve:
        return _missing(title, paper, "eval")
    ns = curve["N"]
    lines = ["| pick | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    lines += [f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in values) + " |"
              for name, values in [*curve["pass@1"].items(), ("oracle pass@N", curve["oracle"])]]
    pn = PAPER_BON_GSM8K["N"]
    lines += ["", "Paper, GSM8K (policy Mistral-7B-Instruct-v0.2):", "",
              "| pick | " + " | ".join(f"N={n}" for n in pn) + " |", "|---|" + "---|" * len(pn)]
    lines += [f"| {k} | " + " | ".join(f"{v:.1f}" for v in vals) + " |" for k, vals in PAPER_BON_GSM8K.items()
              if k != "N"]
    return Section(title, paper, "eval", True, _from(result) + f" {curve['problems']} held-out problems.",
                   "\n".join(lines), lambda: plot_best_of_n(curve))


def mint(run, samples: Path = SAMPLES) -> Section:
    from ..eval.report import PAPER_MINT
    from ..plots.eval import plot_success_by_turn

    title, paper = "MINT analog: multi-turn success by turn", "§4.1, Table 3 (MINT columns)"
    result, rates = _stage_file(run, samples, "eval", "multiturn.json")
    if not rates:
        return _missing(title, paper, "eval")
    turns = max(len(v) for v in rates.values())
    lines = ["| policy | " + " | ".join(f"turn {t}" for t in range(1, turns + 1)) + " |", "|---|" + "---|" * turns]
    lines += [f"| {name} | " + " | ".join(f"{100 * r:.1f}" for r in values) + " |" for name, values in rates.items()]
    lines += ["", "| paper, turn 5 | MINT-Math | MINT-Code |", "|---|---|---|"]
    lines += [f"| Eurus-7B {k.upper()} | {m} | {c} |" for k, (m, c) in PAPER_MINT.items()]
    return Section(title, paper, "eval", True, _from(result), "\n".join(lines), lambda: plot_success_by_turn(rates))


SECTIONS = [table1, figure5, table3, table4, figure4, mint]


def sections(run, samples: Path = SAMPLES) -> list[Section]:
    return [make(run, samples) for make in SECTIONS]


def shipped_verdicts(samples: Path = SAMPLES) -> list[dict] | None:
    """The verdict rows of the shipped real run (data/samples/results/ has a run folder's layout), or None."""
    from ..verdicts import verdict_rows

    folder = samples / "results"
    return verdict_rows(folder) if folder.is_dir() and any(folder.iterdir()) else None


# The section that holds the evidence for each row of eurus_lib.verdicts.ROWS, in its order.
CLAIM_SECTIONS = [table1, table3, figure5, table3, table4, table4, figure4, mint]


class ClaimExplorer:
    """A dropdown over the paper's claims: the verdict of the one picked, then its section's table and figure."""

    def __init__(self, run, rows: list[dict], samples: Path = SAMPLES):
        import ipywidgets as w

        self.run, self.rows, self.samples = run, rows, samples
        self.claim = w.Dropdown(options=[(r["claim"], i) for i, r in enumerate(rows)], description="claim",
                                layout=w.Layout(width="60em"))
        self.detail = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="900px"))
        self.claim.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = w.VBox([self.claim, self.detail, self.plot])
        self.show(0)

    def show(self, i: int) -> None:
        import mistune

        from .live import figure_png

        row, section = self.rows[i], CLAIM_SECTIONS[i](self.run, self.samples)
        self.detail.value = mistune.html(claim_markdown(row, section))
        draw = section.figure if section.measured else None
        self.plot.value = figure_png(draw()) if draw else b""
        self.plot.layout.display = None if draw else "none"

    def text(self) -> str:
        """The text view: each claim, its verdict and the section that holds its evidence."""
        return "\n".join(f"- {r['claim']}: {r['status']} (evidence: {CLAIM_SECTIONS[i].__name__})"
                         for i, r in enumerate(self.rows))


def claim_markdown(row: dict, section: Section) -> str:
    """One claim's verdict, then the section its evidence comes from."""
    verdict = f"**{row['status']}**" + (f": {row['reason']}" if row["reason"] else "")
    head = (f"**{row['claim']}** ({row['paper_ref']}). Paper: {row['paper']}. Ours: {row['ours']}. Verdict: {verdict}."
            f"\n\nEvidence: *{section.title}*. {section.note}")
    return head + ("\n\n" + section.markdown if section.measured else "")


def _num(x, sign: bool = True) -> str:
    if x is None:
        return "-"
    return f"{x:+.3f}" if sign else f"{x:.3f}"
