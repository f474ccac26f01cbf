"""The reward-model section of the run report, from `rm/summary.json` alone (pure: tested on made-up numbers).

    markdown = render(json.loads((run.root / "rm" / "summary.json").read_text()))

It shows the data (and the general preference data it did not have), the training runs, pairwise
accuracy per family with 95% Wilson intervals, the reward signs, the Table 4 analog beside the
paper's numbers, and one verdict per claim, including "indistinguishable from chance" when that
is what the numbers say.
"""

from __future__ import annotations

from ..eval.heldout import comparison_markdown
from ..eval.intervals import wilson_interval
from ..plots.rm import OBJECTIVE_LABELS

# Paper Table 4 (eurus-paper.md section 3.4): RewardBench without prior sets, percent.
PAPER_TABLE4 = {"bt+dr": ("Eurus-RM-7B", 87.0, 65.3), "bt": ("w/o L_DR", 77.5, 59.9), "dr": ("w/o L_BT", 84.2, 58.5)}
PAPER_GENERAL = "340K UltraFeedback + ~3K UltraSafety pairs"
LENGTH_ROW = "longer answer wins (a shortcut, no model)"
UNTRAINED_ROW = "untrained start (SFT body + new head)"


def render(s: dict) -> str:
    parts = [data_paragraph(s["data"]), "", training_table(s), "",
             f"**Held-out pairs.** {heldout_paragraph(s['heldout'])} Pairwise accuracy (chosen reward > rejected "
             "reward), percent [95% Wilson interval]:", "",
             accuracy_table(s),
             "", "How often the reward of the correct answer is positive and that of the wrong answer negative "
             "(what L_DR asks for; Bradley-Terry leaves the offset free):", "", signs_table(s), "",
             "**Table 4 analog.**", "", table4(s), "", table4_note(), "", "**Verdicts.**", "",
             *[f"- {v}" for v in verdicts(s)]]
    return "\n".join(parts)


def accuracy_table(s: dict) -> str:
    """Per objective and family, with the longer-answer shortcut as a last row to compare with."""
    rows = {UNTRAINED_ROW: s["untrained"]["eval"]} if s.get("untrained") else {}
    rows.update({o: s["objectives"][o]["eval"] for o in s["objectives"]})
    if s.get("length_baseline"):
        rows[LENGTH_ROW] = s["length_baseline"]
    return comparison_markdown({"groups": s["groups"], "policies": rows})


def data_paragraph(d: dict) -> str:
    src = d["sources"]
    general = src.get("ultrafeedback", 0) + src.get("ultrasafety", 0)
    text = (f"**Data.** {d['rows']} training pairs from {d['data']}: {src.get('ultrainteract', 0)} UltraInteract "
            f"trajectory pairs and {src.get('ultrainteract_augmented', 0)} augmented single-turn pairs (App. B), "
            "which get the objective under test (L_BT + L_DR for Eurus-RM); "
            f"{src.get('ultrafeedback', 0)} UltraFeedback and {src.get('ultrasafety', 0)} UltraSafety pairs, which "
            "get L_BT in every run.")
    if not general:
        text += (f" **No general preference data** (the paper adds {PAPER_GENERAL}; they need the network, and this "
                 "preset sets rm.ultrafeedback_pairs = rm.ultrasafety_pairs = 0), so every pair gets the objective's "
                 "full loss and nothing here measures chat or safety.")
    skipped = {k: v for k, v in d["skipped"].items() if v}
    text += (" Skipped: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in skipped.items()) + "."
             if skipped else " No pair was skipped.")
    return text


def training_table(s: dict) -> str:
    lines = ["| objective | start | steps | mean training loss | training s (CPU s) | held-out scoring s (CPU s) |",
             "|---|---|---|---|---|---|"]
    for name, o in s["objectives"].items():
        t, sc = o["train"], o.get("scoring") or {}
        lines.append(f"| {OBJECTIVE_LABELS.get(name, name)} | SFT model ({t['mode']}) + new head | {t['steps']} | "
                     f"{t['train_loss']:.3f} | {_secs(t)} | {_secs(sc) if sc else 'cached'} |")
    note = ("Wall seconds move with whatever else runs on the machine; CPU seconds (this process, all threads) "
            "barely do.")
    if s.get("trunk"):
        note += (f" The objectives differ only in their last {s['trunk']['k']} decoder layers and head, so the frozen "
                 f"layers below were run once per distinct sequence ({s['trunk']['tokens']} tokens) and shared by "
                 "every objective, training step and held-out score (exact: `eurus_lib/trunk.py`).")
    return "\n".join(lines) + "\n\n" + note


def _secs(t: dict) -> str:
    return f"{t.get('seconds') or 0:.0f} ({t.get('cpu_seconds') or 0:.0f})"


def heldout_paragraph(h: dict) -> str:
    return (f"{h['pairs']} of {h['problems']} held-out problems had a wrong greedy answer ({h['rejected_from']}); "
            "each gives a pair: its ground-truth action (chosen, correct by construction) against that answer "
            f"(rejected). {h['no_wrong_answer']} problems had none. Neither side was trained on.")


def signs_table(s: dict) -> str:
    lines = ["| objective | chosen > 0 | rejected < 0 | both | mean chosen | mean rejected |", "|---|---|---|---|---|---|"]
    cells = {UNTRAINED_ROW: s["untrained"]["eval"]["all"]} if s.get("untrained") else {}
    cells.update({OBJECTIVE_LABELS.get(name, name): o["eval"]["all"] for name, o in s["objectives"].items()})
    for name, c in cells.items():
        lines.append(f"| {name} | {_pct(c['chosen_positive'])} | "
                     f"{_pct(c['rejected_negative'])} | {_pct(c['both_signs'])} | {c['mean_chosen']:+.2f} | "
                     f"{c['mean_rejected']:+.2f} |")
    return "\n".join(lines)


def table4(s: dict) -> str:
    fams = [g for g in s["groups"] if g != "all"]
    lines = ["| ours | paper row | paper: RB Reasoning | ours: held-out pairs, all | " + " | ".join(fams)
             + " | paper: RB Chat-Hard | ours: Chat-Hard analog |", "|---|---|---|---|" + "---|" * len(fams) + "---|---|"]
    for name, o in s["objectives"].items():
        label, reasoning, chat_hard = PAPER_TABLE4[name]
        ev = o["eval"]
        cells = [_cell(ev[g]) if g in ev else "-" for g in ["all", *fams]]
        lines.append(f"| {OBJECTIVE_LABELS.get(name, name)} | {label} | {reasoning:.1f} | " + " | ".join(cells)
                     + f" | {chat_hard:.1f} | not measured |")
    return "\n".join(lines)


def table4_note() -> str:
    return ("Our held-out pairs are the analog of RewardBench's *Reasoning* split, which pairs a verified correct "
            "solution with a wrong one on math (PRM800K) and code (HumanEvalPack): ours pair a correct and a wrong "
            "answer to the same held-out math, code or logic problem. RewardBench's *Chat-Hard* (subtly different "
            "chat answers) has no analog at this scale: the preset trains on no chat data, so we do not measure it. "
            "RewardBench pairs come from other models than the policy; ours reject the policy's own answers, which "
            "is what best-of-N reranking faces.")


def verdicts(s: dict) -> list[str]:
    return [chance_verdict(s), start_verdict(s), order_verdict(s), signs_verdict(s), length_verdict(s),
            control_verdict(s)]


def start_verdict(s: dict) -> str:
    """How much of the accuracy was there before training: the SFT features under a random head."""
    if not s.get("untrained"):
        return "The untrained start was not scored."
    base = s["untrained"]["eval"]["all"]
    moves = ", ".join(f"{name} {100 * (o['eval']['all']['accuracy'] - base['accuracy']):+.1f}"
                      for name, o in s["objectives"].items())
    return (f"Before any training, the start every objective shares (the SFT body under a new, random head) ranks "
            f"{_cell(base)}; training moved it by {moves} points.")


def length_verdict(s: dict) -> str:
    base = (s.get("length_baseline") or {}).get("all")
    if not base:
        return "No length baseline in this summary."
    best = max(o["eval"]["all"]["accuracy"] for o in s["objectives"].values())
    text = f"Picking the longer answer, with no model, ranks {_cell(base)} of the held-out pairs"
    if base["accuracy"] >= best:
        return text + (", as well as or better than every reward model: on these pairs length alone separates correct "
                       "from wrong, so their accuracy does not show that a model judges correctness.")
    return text + "; the reward models do better than that shortcut."


def chance_verdict(s: dict) -> str:
    cells = {name: o["eval"]["all"] for name, o in s["objectives"].items()}
    at_chance = [n for n, c in cells.items() if c["low"] <= 0.5 <= c["high"]]
    if cells and len(at_chance) == len(cells):
        return ("**Every reward model is indistinguishable from chance here** (each 95% interval contains 50%): the "
                "chosen and rejected reward distributions overlap (figure below), so at this scale the objectives "
                "cannot be ranked on held-out pairs.")
    if at_chance:
        return f"Indistinguishable from chance (interval contains 50%): {', '.join(at_chance)}; the others are above it."
    return "Every reward model ranks the held-out pairs above chance (each 95% interval lies above 50%)."


def order_verdict(s: dict) -> str:
    """Paper: L_DR helps reasoning (Reasoning 77.5 without it, 87.0 with it; 84.2 without L_BT)."""
    ev = {name: o["eval"]["all"] for name, o in s["objectives"].items()}
    if "bt+dr" not in ev or "bt" not in ev:
        return "The L_DR ablation (paper: Reasoning 87.0 with L_DR, 77.5 without) is **not measured**: run both bt+dr and bt."
    a, b = ev["bt+dr"], ev["bt"]
    diff = 100 * (a["accuracy"] - b["accuracy"])
    if a["low"] > b["high"]:
        return (f"**Supported:** adding L_DR raises held-out pairwise accuracy by {diff:+.1f} points, beyond both "
                "intervals (paper: +9.5 on RewardBench Reasoning).")
    if b["low"] > a["high"]:
        return f"**Not supported:** Bradley-Terry alone ranks better, by {-diff:.1f} points beyond both intervals."
    return (f"**Not distinguishable at this scale:** L_BT + L_DR vs L_BT only differ by {diff:+.1f} points with "
            f"overlapping intervals (n={a['n']}), too few pairs to resolve a gap like the paper's +9.5 on RewardBench "
            "Reasoning.")


def signs_verdict(s: dict) -> str:
    ev = {name: o["eval"]["all"] for name, o in s["objectives"].items()}
    if "bt" not in ev or not ({"bt+dr", "dr"} & set(ev)):
        return "The sign claim (L_DR puts correct answers above 0, wrong ones below) is **not measured** without a bt run."
    parts = []
    for name in ("bt+dr", "dr", "bt"):
        if name in ev:
            c = ev[name]
            low, high = wilson_interval(round(c["both_signs"] * c["n"]), c["n"])
            parts.append(f"{name} {_pct(c['both_signs'])} [{100 * low:.0f}-{100 * high:.0f}]")
    with_dr = max(ev[n]["both_signs"] for n in ("bt+dr", "dr") if n in ev)
    word = "as the paper argues" if with_dr > ev["bt"]["both_signs"] else "**not** as the paper argues"
    return f"Pairs with chosen > 0 > rejected: {'; '.join(parts)}: {word} for L_DR's absolute rewards (section 3)."


def control_verdict(s: dict) -> str:
    ctrl = s.get("control") or {}
    if not ctrl or not any(c.get("n") for c in ctrl.values()):
        return ("Style control not available: no held-out problem had one policy right and the other wrong, so every "
                "pair sets a ground-truth action against a policy answer, and part of the accuracy may be style.")
    parts = [f"{name} {_cell(c)}" for name, c in ctrl.items()]
    return ("Style control (one policy's correct answer against the other's wrong one, both in the policy's words, "
            f"n={next(iter(ctrl.values()))['n']}): " + "; ".join(parts) + ".")


def _cell(c: dict) -> str:
    return f"{100 * c['accuracy']:.1f} [{100 * c['low']:.0f}-{100 * c['high']:.0f}] (n={c['n']})"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"
