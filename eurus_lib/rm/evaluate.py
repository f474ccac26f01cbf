"""Reward models on held-out problems: pairs without leakage, batched scores, accuracy and reward signs.

    pairs, counts = heldout_pairs(tasks, {"sft": sft_records, "base": base_records}, cot_share=0.5, seed=0)
    scored = score_pairs(rm, tok, pairs, batch_size=16)   # pairs + chosen_reward / rejected_reward
    summarize(scored)["all"]   # {"n", "correct", "accuracy", "low", "high", "chosen_positive", ...}

A held-out pair is built for each held-out problem (the tasks stage keeps them apart from every
training problem, decontaminated by 8-grams) that a policy answered wrongly: chosen is the problem's
ground-truth action (`trees.prompts.ground_truth_action`, correct by construction, in a planning
schema drawn as the trees draw it), rejected is the SFT policy's wrong greedy answer (the base
policy's when SFT was right), from `sft/heldout/{sft,base}.jsonl`. Neither text was trained on.
This is the analog of RewardBench's Reasoning split (a verified correct solution against a wrong
one, on math and code; paper Table 4). Caveat: on the tiny preset most trained chosen answers are
ground-truth actions too, so a model may tell the kit's ground-truth style from the policy's style;
the `policy` pairs (one policy right and the other wrong on the same problem, both in the policy's
own words) are the style-free control, when there are any.

Per objective we report pairwise accuracy (chosen reward > rejected reward) per family with 95%
Wilson intervals, and how often the chosen reward is positive and the rejected one negative: what
L_DR asks for (paper section 3), and what Bradley-Terry alone leaves free (its rewards have an
arbitrary offset).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from ..eval.intervals import wilson_interval

ALL = "all"
REJECTED_FROM = ("sft", "base")  # whose wrong answer a pair rejects: the policy the reward model reranks first


def heldout_pairs(tasks: Sequence, records: Mapping[str, Sequence[dict]], *, cot_share: float,
                  seed: int) -> tuple[list[dict], dict]:
    """Ground-truth pairs and policy pairs (see the module docstring), and counts of problems left out."""
    by_id = {name: {r["id"]: r for r in recs} for name, recs in records.items()}
    pairs, counts = [], {"problems": len(tasks), "no_wrong_answer": 0, "policy_pairs": 0}
    for task in tasks:
        answers = {name: by_id[name][task.id] for name in REJECTED_FROM if task.id in by_id.get(name, {})}
        wrong = [(n, a) for n, a in answers.items() if not a["correct"] and a["response"].strip()]
        if not wrong:
            counts["no_wrong_answer"] += 1
            continue
        pairs.append(_pair(task, "ground_truth", _truth(task, cot_share, seed), wrong[0]))
        right = [(n, a) for n, a in answers.items() if a["correct"] and a["response"].strip()]
        if right and right[0][1]["response"].strip() != wrong[0][1]["response"].strip():
            pairs.append(_pair(task, "policy", right[0][1]["response"], wrong[0], chosen_from=right[0][0]))
            counts["policy_pairs"] += 1
    return pairs, counts


def _truth(task, cot_share: float, seed: int) -> str:
    from ..trees.growth import pick_schema
    from ..trees.prompts import ground_truth_action

    return ground_truth_action(task, pick_schema(task, random.Random(f"{seed}:{task.id}"), cot_share))


def _pair(task, kind: str, chosen: str, wrong: tuple[str, dict], chosen_from: str = "ground_truth") -> dict:
    from ..eval.heldout import conversation

    return {"id": f"{task.id}:{kind}", "task_id": task.id, "family": task.family, "task": task.task, "kind": kind,
            "prompt": conversation(task), "chosen": chosen, "rejected": wrong[1]["response"],
            "chosen_from": chosen_from, "rejected_from": wrong[0]}


def score_pairs(model, tok, pairs: Sequence[dict], *, batch_size: int = 16, progress: bool | str = False,
                trunk=None) -> list[dict]:
    """Each pair with `chosen_reward` and `rejected_reward`, all 2N answers scored in one batched pass.

    With `trunk` (a `trunk.TrunkCache`), the frozen layers are read from it: the same rewards, computed once
    for all the objectives of a run.
    """
    from ..eval.scoring import reward_scores

    prompts = [p["prompt"] for p in pairs] * 2
    responses = [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]
    if trunk is not None:
        rewards = trunk.scores({"rm": model}, tok, prompts, responses, batch_size=batch_size, progress=progress)["rm"]
    else:
        rewards = reward_scores(model, tok, prompts, responses, batch_size=batch_size, progress=progress)
    n = len(pairs)
    return [{"id": p["id"], "family": p["family"], "kind": p["kind"], "chosen_reward": rewards[i],
             "rejected_reward": rewards[n + i]} for i, p in enumerate(pairs)]


def length_scores(pairs: Sequence[dict]) -> list[dict]:
    """A shortcut to compare with: "reward" = the answer's length in characters (the longer answer wins)."""
    return [{"id": p["id"], "family": p["family"], "kind": p["kind"], "chosen_reward": float(len(p["chosen"])),
             "rejected_reward": float(len(p["rejected"]))} for p in pairs]


def summarize(scored: Sequence[dict], kind: str = "ground_truth") -> dict[str, dict]:
    """Per family and "all": pairwise accuracy with its Wilson interval, reward signs and means."""
    rows = [r for r in scored if r.get("kind", kind) == kind]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["family"], []).append(r)
    groups = dict(sorted(groups.items()))
    groups[ALL] = list(rows)
    return {name: cell(group) for name, group in groups.items()}


def cell(rows: Sequence[dict]) -> dict:
    """Counts and shares of one group of scored pairs (a tie is not a correct ranking)."""
    n = len(rows)
    correct = sum(r["chosen_reward"] > r["rejected_reward"] for r in rows)
    low, high = wilson_interval(correct, n)

    def mean(values) -> float:  # of booleans: a share
        return sum(values) / n if n else 0.0

    return {"n": n, "correct": correct, "accuracy": correct / n if n else 0.0, "low": low, "high": high,
            "chosen_positive": mean(r["chosen_reward"] > 0 for r in rows),
            "rejected_negative": mean(r["rejected_reward"] < 0 for r in rows),
            "both_signs": mean(r["chosen_reward"] > 0 > r["rejected_reward"] for r in rows),
            "mean_chosen": mean(r["chosen_reward"] for r in rows),
            "mean_rejected": mean(r["rejected_reward"] for r in rows)}
