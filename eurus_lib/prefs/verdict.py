"""Does our run show the paper's effect? Computed from the step logs and the held-out records, never typed in.

    dyn = reward_dynamics({"dpo": dpo_log, "kto": kto_log, "nca": nca_log})
    reward_verdict(dyn)["status"]          # "shown", "partly shown", "not shown" or "incomplete"
    accuracy_verdict(comparison)           # is the order KTO/NCA > SFT > DPO, and is any gap beyond the intervals?

The paper's claim (section 6.1, figure 5; Table 3): under DPO the chosen reward falls below zero
by the end of training (-1.26) while under KTO (+0.4) and NCA (+0.16) it rises above zero, and the
downstream order follows (average 48.8 KTO, 48.1 NCA > 46.5 SFT > 44.5 DPO).

"Final" is the mean over the last 10% of the logged steps (at least one), since each step's
reward is a mean over one batch of different pairs; its standard error over those steps says
whether the sign is clear (|mean| > 2 SE) or could be batch noise. At step 1 every reward is 0:
the policy is still the reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .paper import EXPECTED_SIGN, FINAL_CHOSEN

TAIL = 0.1
KEYS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies")


def tail_stats(log: Sequence[dict], key: str, tail: float = TAIL) -> dict | None:
    """{"mean", "se", "steps"} of `key` over the last `tail` share of the rows that have it; None if none do."""
    values = [float(r[key]) for r in log if key in r and not math.isnan(float(r[key]))]
    if not values:
        return None
    last = values[-max(1, math.ceil(tail * len(values))):]
    mean = sum(last) / len(last)
    var = sum((v - mean) ** 2 for v in last) / (len(last) - 1) if len(last) > 1 else 0.0
    return {"mean": mean, "se": math.sqrt(var / len(last)), "steps": len(last)}


def reward_dynamics(logs: Mapping[str, Sequence[dict]]) -> dict[str, dict]:
    """Per algorithm: the final (tail) value of each reward key and how many steps were logged."""
    out = {}
    for algo, log in logs.items():
        out[algo] = {"steps": max((int(r.get("step", 0)) for r in log), default=0),
                     **{key: tail_stats(log, key) for key in KEYS}}
    return out


def reward_verdict(dynamics: Mapping[str, dict]) -> dict:
    """Whether each algorithm's final chosen reward has the paper's sign, and an overall status."""
    matches, clear = {}, {}
    for algo, sign in EXPECTED_SIGN.items():
        stats = (dynamics.get(algo) or {}).get("rewards/chosen")
        if stats is None:
            continue
        matches[algo] = stats["mean"] * sign > 0
        clear[algo] = abs(stats["mean"]) > 2 * stats["se"] or stats["steps"] == 1
    if len(matches) < len(EXPECTED_SIGN):
        status = "incomplete"
    elif all(matches.values()):
        status = "shown"
    else:
        status = "partly shown" if any(matches.values()) else "not shown"
    return {"status": status, "matches": matches, "clear": clear}


def accuracy_verdict(comparison: dict, group: str = "all") -> dict:
    """Does held-out pass@1 follow KTO, NCA > SFT > DPO (point estimates), and which gaps clear the intervals?"""
    tables = comparison["policies"]
    acc = {name: t[group]["accuracy"] for name, t in tables.items() if group in t}
    checks = [(a, b) for a, b in (("kto", "sft"), ("nca", "sft"), ("sft", "dpo")) if a in acc and b in acc]
    holds = {f"{a} > {b}": acc[a] > acc[b] for a, b in checks}
    return {"group": group, "accuracy": acc, "holds": holds, "order_follows": bool(holds) and all(holds.values()),
            "beyond_intervals": separated_pairs(comparison)}


def separated_pairs(comparison: dict) -> list[str]:
    """'kto > dpo in math' for every two policies whose 95% intervals do not overlap in a group."""
    out, tables = [], comparison["policies"]
    for g in comparison["groups"]:
        for a, ta in tables.items():
            for b, tb in tables.items():
                if g in ta and g in tb and ta[g]["low"] > tb[g]["high"]:
                    out.append(f"{a} > {b} in {g}")
    return out


def verdict_markdown(dynamics: Mapping[str, dict], rewards: dict, accuracy: dict | None) -> str:
    """The plain-language verdict for the report."""
    lines = [f"**Reward dynamics: the paper's effect is {rewards['status']}.** Final chosen reward (mean of the last "
             "10% of steps ± standard error) against the paper's figure 5:", ""]
    for algo in EXPECTED_SIGN:
        stats = (dynamics.get(algo) or {}).get("rewards/chosen")
        if stats is None:
            lines.append(f"- {algo.upper()}: not trained in this run.")
            continue
        want = "below" if EXPECTED_SIGN[algo] < 0 else "above"
        got = "as in the paper" if rewards["matches"][algo] else "**unlike the paper**"
        noise = "" if rewards["clear"][algo] else " (within 2 SE of zero: the sign may be batch noise)"
        lines.append(f"- {algo.upper()}: {stats['mean']:+.3f} ± {stats['se']:.3f} over {stats['steps']} steps; "
                     f"paper {FINAL_CHOSEN[algo]:+.2f}; the paper's is {want} zero, ours {got}{noise}.")
    if accuracy is not None:
        lines += ["", _accuracy_sentence(accuracy)]
    return "\n".join(lines)


def _accuracy_sentence(accuracy: dict) -> str:
    acc = ", ".join(f"{k.upper()} {100 * v:.1f}%" for k, v in accuracy["accuracy"].items())
    follows = "follows" if accuracy["order_follows"] else "does **not** follow"
    failed = [k for k, ok in accuracy["holds"].items() if not ok]
    beyond = accuracy["beyond_intervals"]
    return (f"**Held-out accuracy ({accuracy['group']}: {acc}) {follows} the paper's order KTO, NCA > SFT > DPO**"
            + (f" (fails: {', '.join(failed)})" if failed else "") + ". "
            + (f"Differences beyond the 95% intervals: {'; '.join(beyond)}." if beyond else
               "No difference between any two policies lies beyond the 95% intervals at this sample size."))
