"""One verdict per claim of the paper, computed from what a run folder holds; it closes the report and notebook 06.

    rows = verdict_rows(RunDir.existing("runs/tiny"))
    print(verdict_markdown(rows))

Each row: the claim, where the paper makes it, the paper's number, ours, and a status:
- "supported": our run shows the effect, beyond the 95% intervals where the claim is about a difference;
- "not supported at this scale": our run measured it and does not show it; the reason says what we saw;
- "not measured": the stage that would measure it did not run (or wrote nothing) in this folder.
Nothing here is typed in: every status comes from the stage summaries and logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

SUPPORTED, NOT_AT_SCALE, NOT_MEASURED = "supported", "not supported at this scale", "not measured"


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _row(claim: str, where: str, paper: str, ours: str, status: str, reason: str = "") -> dict:
    return {"claim": claim, "paper_ref": where, "paper": paper, "ours": ours, "status": status, "reason": reason}


def trees_row(root: Path) -> dict:
    claim, where, paper = "Trees grow over several turns; every turn yields a correct/incorrect pair", "§2, Table 1", \
        "86K instructions, 220K pairs, up to 5 turns"
    stats = _load(root / "trees" / "stats.json")
    if not stats:
        return _row(claim, where, paper, "-", NOT_MEASURED)
    rows = stats.get("rows", {})
    total = next((r for r in stats.get("table", []) if r.get("task") == "Total"), {})
    deep = sum(total.get(f"T{k}", 0) for k in range(2, 11))
    ours = f"{rows.get('pairs.jsonl', 0)} pairs, {rows.get('sft.jsonl', 0)} SFT rows; {deep} trajectories past turn 1"
    ok = rows.get("pairs.jsonl", 0) > 0 and deep > 0
    return _row(claim, where, paper, ours, SUPPORTED if ok else NOT_AT_SCALE,
                "" if ok else "no tree grew past its first turn")


def sft_row(root: Path) -> dict:
    claim, where, paper = "SFT on the correct actions improves reasoning", "§3, §4.1, Table 3", \
        "Eurus-7B-SFT 46.5 avg (Mistral-7B-Instruct-v0.2: 28.5)"
    s = _load(root / "sft" / "summary.json")
    if not s:
        return _row(claim, where, paper, "-", NOT_MEASURED)
    tables = s["heldout"]["policies"]
    base, sft = tables["base"]["all"], tables["sft"]["all"]
    ours = f"held-out pass@1 {100 * base['accuracy']:.1f}% → {100 * sft['accuracy']:.1f}% (n={sft['n']})"
    lifted = [g for g in s["heldout"]["groups"] if g in tables["base"] and g in tables["sft"]
              and tables["sft"][g]["low"] > tables["base"][g]["high"]]
    if lifted:
        return _row(claim, where, paper, ours, SUPPORTED, f"beyond the intervals in: {', '.join(lifted)}")
    return _row(claim, where, paper, ours, NOT_AT_SCALE, "the SFT and base intervals overlap in every family")


def dynamics_row(root: Path) -> dict:
    claim, where, paper = "DPO's chosen reward falls below 0 while KTO's and NCA's rise", "§6.1, Figure 5", \
        "final chosen: DPO −1.26, KTO +0.40, NCA +0.16"
    s = _load(root / "prefs" / "summary.json")
    if not s:
        return _row(claim, where, paper, "-", NOT_MEASURED)
    dyn = s["dynamics"]
    finals = {a: (d.get("rewards/chosen") or {}).get("mean") for a, d in dyn.items()}
    ours = ", ".join(f"{a.upper()} {v:+.3f}" for a, v in finals.items() if v is not None)
    verdict = s["verdict"]["rewards"]
    if verdict["status"] == "incomplete":
        return _row(claim, where, paper, ours or "-", NOT_MEASURED, "not all of DPO, KTO and NCA were trained")
    if verdict["status"] == "shown":
        unclear = [a for a, c in verdict.get("clear", {}).items() if not c]
        reason = f"signs as in the paper; within batch noise for: {', '.join(unclear)}" if unclear else \
            "signs as in the paper, each beyond 2 standard errors of the final steps"
        return _row(claim, where, paper, ours, SUPPORTED, reason)
    wrong = [a.upper() for a, ok in verdict["matches"].items() if not ok]
    return _row(claim, where, paper, ours, NOT_AT_SCALE, f"final chosen reward has the other sign for: {', '.join(wrong)}")


def prefs_accuracy_row(root: Path) -> dict:
    claim, where, paper = "KTO and NCA beat SFT on reasoning; DPO does worse", "§4.1, Table 3", \
        "avg KTO 48.8, NCA 48.1 > SFT 46.5 > DPO 44.5"
    s = _load(root / "prefs" / "summary.json")
    if not s:
        return _row(claim, where, paper, "-", NOT_MEASURED)
    acc = s["verdict"]["accuracy"]
    ours = ", ".join(f"{k.upper()} {100 * v:.1f}" for k, v in acc["accuracy"].items())
    beyond = acc.get("beyond_intervals") or []
    if acc["order_follows"] and beyond:
        return _row(claim, where, paper, ours, SUPPORTED, "; ".join(beyond))
    if acc["order_follows"]:
        return _row(claim, where, paper, ours, NOT_AT_SCALE, "the order follows, but every gap is within the intervals")
    broken = [k for k, ok in acc["holds"].items() if not ok]
    return _row(claim, where, paper, ours, NOT_AT_SCALE, f"order broken: not {', '.join(broken)}")


def _rm_eval(root: Path) -> dict | None:
    s = _load(root / "rm" / "summary.json")
    return {name: o["eval"]["all"] for name, o in s["objectives"].items()} if s else None


def rm_accuracy_row(root: Path) -> dict:
    claim, where, paper = "Adding L_DR to Bradley-Terry improves the reward model on reasoning", "§5.1, Table 4", \
        "RewardBench Reasoning 87.0 (BT+DR) vs 77.5 (BT only)"
    ev = _rm_eval(root)
    if not ev or "bt+dr" not in ev or "bt" not in ev:
        return _row(claim, where, paper, "-", NOT_MEASURED)
    a, b = ev["bt+dr"], ev["bt"]
    ours = f"held-out pairwise accuracy {100 * a['accuracy']:.1f} vs {100 * b['accuracy']:.1f} (n={a['n']})"
    if a["low"] > b["high"]:
        return _row(claim, where, paper, ours, SUPPORTED, "beyond both intervals")
    why = "BT alone is higher" if a["accuracy"] < b["accuracy"] else "the intervals overlap"
    return _row(claim, where, paper, ours, NOT_AT_SCALE, why)


def rm_signs_row(root: Path) -> dict:
    claim, where, paper = "L_DR gives correct answers positive and wrong answers negative rewards", "§3, §5", \
        "the motivation of L_DR (no number given)"
    ev = _rm_eval(root)
    if not ev or "bt" not in ev or not ({"bt+dr", "dr"} & set(ev)):
        return _row(claim, where, paper, "-", NOT_MEASURED)
    with_dr = max(("bt+dr", "dr"), key=lambda n: ev[n]["both_signs"] if n in ev else -1)
    ours = f"chosen > 0 > rejected: {with_dr} {100 * ev[with_dr]['both_signs']:.0f}% vs bt {100 * ev['bt']['both_signs']:.0f}%"
    ok = ev[with_dr]["both_signs"] > ev["bt"]["both_signs"] and ev[with_dr]["both_signs"] > 0.5
    return _row(claim, where, paper, ours, SUPPORTED if ok else NOT_AT_SCALE,
                "" if ok else "the DR models do not put most pairs on the right sides of 0")


def bon_row(root: Path) -> dict:
    claim, where, paper = "Reranking with Eurus-RM beats random and self-consistency picks", "§5.2, Figure 4, Table 9", \
        "GSM8K N=16: RM 57.3, self-consistency 52.8, random 40.2"
    curve = _load(root / "eval" / "best_of_n.json")
    key = "RM reward:bt+dr"
    if not curve or key not in curve["pass@1"]:
        return _row(claim, where, paper, "-", NOT_MEASURED)
    from .eval.intervals import wilson_interval

    n, p = curve["N"][-1], curve["problems"]
    rm, rnd, sc = (curve["pass@1"][k][-1] for k in (key, "random", "self-consistency"))
    ours = f"N={n}: RM {100 * rm:.1f}, self-consistency {100 * sc:.1f}, random {100 * rnd:.1f} ({p} problems)"
    # The standard of the SFT row: the RM pick's 95% interval must clear both baselines' intervals.
    low = wilson_interval(round(rm * p), p)[0]
    highs = [wilson_interval(round(x * p), p)[1] for x in (rnd, sc)]
    if low > max(highs):
        return _row(claim, where, paper, ours, SUPPORTED, "the RM pick's interval lies above both baselines' intervals")
    return _row(claim, where, paper, ours, NOT_AT_SCALE,
                "the RM pick is not above both" if rm <= max(rnd, sc) else "above both, but the intervals overlap")


def mint_row(root: Path) -> dict:
    claim, where, paper = "Preference learning (KTO, NCA) improves multi-turn success over SFT", "§4.1, Table 3 (MINT)", \
        "MINT-Math turn 5: KTO 43.6, NCA 38.7 vs SFT 28.4"
    rates = _load(root / "eval" / "multiturn.json")
    if not rates or "sft" not in rates or not ({"kto", "nca"} & set(rates)):
        return _row(claim, where, paper, "-", NOT_MEASURED)
    last = {k: v[-1] for k, v in rates.items() if v}
    ours = ", ".join(f"{k.upper()} {100 * v:.1f}" for k, v in last.items()) + f" at turn {len(rates['sft'])}"
    better = [k for k in ("kto", "nca") if k in last and last[k] > last["sft"]]
    if len(better) == len({"kto", "nca"} & set(last)):
        return _row(claim, where, paper, ours, SUPPORTED if _mint_beyond(root, better) else NOT_AT_SCALE,
                    "" if _mint_beyond(root, better) else "higher, within the intervals")
    return _row(claim, where, paper, ours, NOT_AT_SCALE, "not higher than SFT")


def _mint_beyond(root: Path, better: list[str]) -> bool:
    from .eval.intervals import wilson_interval
    from .jsonl import read_jsonl

    def interval(name):
        recs = read_jsonl(root / "eval" / "multiturn" / f"{name}.jsonl")
        return wilson_interval(sum(r["solved_turn"] is not None for r in recs), len(recs))

    sft = interval("sft")
    return all(interval(k)[0] > sft[1] for k in better)


ROWS: list[Callable[[Path], dict]] = [trees_row, sft_row, dynamics_row, prefs_accuracy_row, rm_accuracy_row,
                                      rm_signs_row, bon_row, mint_row]


def verdict_rows(run) -> list[dict]:
    root = Path(run) if isinstance(run, (str, Path)) else Path(run.root)
    return [make(root) for make in ROWS]


def verdict_markdown(rows: list[dict]) -> str:
    lines = ["| claim | paper | paper's number | ours | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        verdict = f"**{r['status']}**" + (f": {r['reason']}" if r["reason"] else "")
        lines.append(f"| {r['claim']} | {r['paper_ref']} | {r['paper']} | {r['ours']} | {verdict} |")
    return "\n".join(lines)
