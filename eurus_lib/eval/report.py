"""The `eval` stage's section of the run report: Table 3, Figure 4 / Table 9 and MINT analogs, each
beside the paper's numbers (eurus-paper.md sections 3.2 and 3.5).

    print(eval_report(RunDir.existing("runs/tiny")))
"""

from __future__ import annotations

import json

from ..jsonl import read_jsonl

# Table 9, GSM8K columns (the benchmark closest to our math family), N = 2, 4, 8, 16; Mistral-7B-Instruct-v0.2 policy.
PAPER_BON_GSM8K = {"N": [2, 4, 8, 16], "random": [45.0, 43.1, 44.5, 40.2], "self-consistency": [45.7, 49.5, 52.2, 52.8],
                   "Eurus-RM-7B": [49.8, 53.7, 56.3, 57.3], "oracle pass@N": [54.9, 64.1, 73.2, 80.4]}
# Table 3, MINT-Math / MINT-Code success at turn 5, Eurus-7B rows.
PAPER_MINT = {"sft": (28.4, 15.4), "dpo": (32.4, 20.6), "kto": (43.6, 19.1), "nca": (38.7, 21.3)}
FIGURES = {"heldout": "eval_heldout.png", "bon": "eval_best_of_n.png", "multiturn": "eval_multiturn.png"}


def eval_report(run) -> str:
    folder = run.root / "eval"
    if not (folder / "heldout.json").is_file():
        return "No evaluation results in this run folder."
    parts = [_heldout_section(run), _bon_section(run), _multiturn_section(run)]
    return "\n\n".join(p for p in parts if p)


def _heldout_section(run) -> str:
    from ..prefs.paper import table3_rows
    from .heldout import comparison_markdown

    comparison = json.loads((run.root / "eval" / "heldout.json").read_text())
    if not comparison["policies"]:
        return "No policy was scored on the held-out problems."
    lines = ["### Held-out pass@1 of every policy (Table 3 analog)", "",
             "Greedy decoding, judged like the trees; percent with 95% Wilson intervals. Paper rows map its math "
             "columns to our math family and its coding columns to our code family (`eurus_lib/prefs/paper.py`).",
             "", comparison_markdown(comparison, paper=table3_rows()), ""]
    return "\n".join(lines + _figure(run, "heldout", "Held-out pass@1 per policy and family"))


def _bon_section(run) -> str:
    path = run.root / "eval" / "best_of_n.json"
    if not path.is_file():
        return ""
    curve = json.loads(path.read_text())
    header = "| pick | " + " | ".join(f"N={n}" for n in curve["N"]) + " |"
    rows = [header, "|---|" + "---|" * len(curve["N"])]
    for name, values in curve["pass@1"].items():
        rows.append(f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in values) + " |")
    rows.append("| oracle pass@N | " + " | ".join(f"{100 * v:.1f}" for v in curve["oracle"]) + " |")
    paper = ["| paper (GSM8K) | " + " | ".join(f"N={n}" for n in PAPER_BON_GSM8K["N"]) + " |",
             "|---|" + "---|" * len(PAPER_BON_GSM8K["N"])]
    paper += [f"| {k} | " + " | ".join(f"{v:.1f}" for v in vals) + " |"
              for k, vals in PAPER_BON_GSM8K.items() if k != "N"]
    lines = [f"### Best-of-N reranking (Figure 4 / Table 9 analog), {curve['problems']} held-out problems", "",
             "N answers sampled from the SFT policy; pass@1 (%) of the answer each method picks among the first N.",
             "", *rows, "", "The paper's GSM8K columns (policy Mistral-7B-Instruct-v0.2), for comparison:", "", *paper, ""]
    return "\n".join(lines + _figure(run, "bon", "pass@1 of the pick against N"))


def _multiturn_section(run) -> str:
    from .multiturn import success_table

    folder = run.root / "eval" / "multiturn"
    records = {p.stem: read_jsonl(p) for p in sorted(folder.glob("*.jsonl"))} if folder.is_dir() else {}
    if not records:
        return ""
    rates = json.loads((run.root / "eval" / "multiturn.json").read_text())
    turns = max((len(v) for v in rates.values()), default=5)
    paper = ["| paper, turn 5 | MINT-Math | MINT-Code |", "|---|---|---|"]
    paper += [f"| Eurus-7B {k.upper()} | {m} | {c} |" for k, (m, c) in PAPER_MINT.items()]
    lines = ["### Multi-turn success (MINT analog)", "",
             "The policy answers, the environment runs and judges, the rule critic (which knows the answer) gives "
             "feedback, and the policy tries again with the whole history; success rate (%) by turn:", "",
             success_table(records, turns), "", *paper, ""]
    return "\n".join(lines + _figure(run, "multiturn", "Success rate by turn"))


def _figure(run, key: str, caption: str) -> list[str]:
    if (run.root / "figures" / FIGURES[key]).is_file():
        return [f"![{caption}](../figures/{FIGURES[key]})", ""]
    return []
