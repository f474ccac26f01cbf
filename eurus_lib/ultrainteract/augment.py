"""The reward model's cross-turn augmentation, computed from released-format pair rows.

    extra = rm_augmented_pairs(pair_rows)            # single-turn pair rows, same schema
    rows_by_tree = group_trees(pair_rows)            # parent_id -> its rows, by turn

Paper App. B: "match every correct action of an instruction with incorrect actions from other
turns", giving single-turn pairs (the prompt is the instruction alone); same-turn pairs are
dropped because the multi-turn set has them; only instructions with N x N <= 10 are kept;
at most 9 pairs per instruction, each action used at most 3 times (240K pairs in the paper).

The actions of one tree are rebuilt from its rows (eurus-paper.md section 6): a row of turn t
gives a correct action (`chosen`) and an incorrect one (`rejected`) of turn t, and the
assistant turns of its `trajectory` are the incorrect actions of turns 1..t-1 that were
expanded. N x N is read as (#correct actions) x (#incorrect actions) of the instruction, which
is N x N for a depth-N tree with one of each per turn. Pure on rows: the tree builder calls
this on its own `pairs.jsonl` rows, the RM stage on the released ones.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable

from .schema import parse_pair_id

MAX_GRID = 10  # keep instructions with N x N <= 10
MAX_PAIRS = 9  # pairs sampled per instruction
MAX_USES = 3  # times one action may appear


def group_trees(rows: Iterable[dict]) -> dict[str, list[dict]]:
    """parent_id -> that instruction's pair rows, sorted by turn."""
    trees: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        trees[row["parent_id"]].append(row)
    return {pid: sorted(group, key=lambda r: parse_pair_id(r["id"])[2]) for pid, group in trees.items()}


def tree_actions(group: list[dict]) -> tuple[dict[str, int], dict[str, int]]:
    """(correct, incorrect): action text -> the turn it was taken at, over one instruction's rows."""
    correct: dict[str, int] = {}
    incorrect: dict[str, int] = {}
    for row in group:
        turn = parse_pair_id(row["id"])[2]
        correct.setdefault(row["chosen"], turn)
        incorrect.setdefault(row["rejected"], turn)
        for k, step in enumerate(row["trajectory"][1::2], 1):  # assistant turns: the expanded wrong actions
            incorrect.setdefault(step["value"], k)
    return correct, incorrect


def rm_augmented_pairs(rows: Iterable[dict], *, max_grid: int = MAX_GRID, max_pairs: int = MAX_PAIRS,
                       max_uses: int = MAX_USES, seed: int = 0) -> list[dict]:
    """Single-turn cross-turn pairs in the UltraInteract_pair schema (ids `<parent_id>-rm<k>_<depth>_1`)."""
    out = []
    for parent_id, group in group_trees(rows).items():
        correct, incorrect = tree_actions(group)
        if len(correct) * len(incorrect) > max_grid:
            continue
        rng = random.Random(f"{seed}:{parent_id}")
        chosen = _sample(rng, correct, incorrect, max_pairs, max_uses)
        out += [_row(group, parent_id, k, good, bad) for k, (good, bad) in enumerate(chosen)]
    return out


def _sample(rng: random.Random, correct: dict, incorrect: dict, max_pairs: int, max_uses: int) -> list[tuple]:
    candidates = [(c, r) for c, tc in correct.items() for r, tr in incorrect.items() if tc != tr]
    rng.shuffle(candidates)
    uses: dict[str, int] = defaultdict(int)
    picked = []
    for good, bad in candidates:
        if len(picked) == max_pairs:
            break
        if uses[good] < max_uses and uses[bad] < max_uses:
            uses[good] += 1
            uses[bad] += 1
            picked.append((good, bad))
    return picked


def _row(group: list[dict], parent_id: str, k: int, good: str, bad: str) -> dict:
    first = group[0]
    depth = parse_pair_id(first["id"])[1]
    return {
        "task": first["task"], "dataset": first["dataset"],
        "trajectory": [dict(first["trajectory"][0])],  # the instruction alone: single-turn pairs
        "chosen": good, "rejected": bad,
        "id": f"{parent_id}-rm{k}_{depth}_1", "parent_id": parent_id,
    }
