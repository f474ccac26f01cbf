"""Released-format rows from trees: UltraInteract_sft, UltraInteract_pair, and the RM augmentation.

    sft_rows(tree)    # [{"task", "dataset", "instruction", "response", "id", "parent_id"}, ...]
    pair_rows(tree)   # [{"task", "dataset", "trajectory", "chosen", "rejected", "id", "parent_id"}, ...]
    rm_rows_from_tree(tree, random.Random(0))   # cross-turn single-turn pairs (paper App. B)

Field names and order follow `openbmb/UltraInteract_sft` and `openbmb/UltraInteract_pair`
(eurus-paper.md section 1.5). Ids are `<hash>_<depth>_<turn>`: the tree's hash, its depth
(number of turns) and the turn of the row; `parent_id` is the instruction's id. SFT keeps the
correct leaves only, with the interaction history dropped (section 3: "yields better
performance"); a pair's `trajectory` is the shared history, ending with a user turn.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence

from .tree import Tree

SFT_FIELDS = ("task", "dataset", "instruction", "response", "id", "parent_id")
PAIR_FIELDS = ("task", "dataset", "trajectory", "chosen", "rejected", "id", "parent_id")
RM_LIMITS = {"max_product": 10, "max_pairs": 9, "max_uses": 3}  # paper App. B


def row_id(tree: Tree, turn: int) -> str:
    return f"{tree.hash}_{tree.depth}_{turn}"


def sft_rows(tree: Tree) -> list[dict]:
    """One row per correct leaf: the chosen action of every turn, answering the bare instruction."""
    return [{"task": tree.task["task"], "dataset": tree.task["dataset"], "instruction": tree.instruction,
             "response": turn.chosen_action.text, "id": row_id(tree, turn.turn), "parent_id": tree.parent_id}
            for turn in tree.turns if turn.chosen is not None]


def pair_rows(tree: Tree) -> list[dict]:
    """One row per turn that has both a correct and an incorrect action."""
    rows = []
    for turn in tree.turns:
        if turn.chosen is None or turn.rejected is None:
            continue
        trajectory = [{"from": m["role"], "value": m["content"]} for m in tree.history(upto=turn.turn)]
        rows.append({"task": tree.task["task"], "dataset": tree.task["dataset"], "trajectory": trajectory,
                     "chosen": turn.chosen_action.text, "rejected": turn.rejected_action.text,
                     "id": row_id(tree, turn.turn), "parent_id": tree.parent_id})
    return rows


def augment_pairs(correct: Sequence[tuple[int, str]], incorrect: Sequence[tuple[int, str]], rng: random.Random,
                  *, max_product: int = 10, max_pairs: int = 9, max_uses: int = 3) -> list[tuple[int, int]]:
    """Index pairs (i into correct, j into incorrect) for the reward model's augmented pairs.

    Paper App. B: match every correct action with the incorrect actions of *other* turns (the
    same-turn pairs are already multi-turn pairs), keep instructions with N x N <= 10 (here:
    #correct x #incorrect, which is N x N for a tree with both at each of its N turns), sample at
    most 9 pairs per instruction and use each action at most 3 times.

    >>> augment_pairs([(1, "c1"), (2, "c2")], [(1, "w1"), (2, "w2")], random.Random(0))
    [(0, 1), (1, 0)]
    """
    if not correct or not incorrect or len(correct) * len(incorrect) > max_product:
        return []
    candidates = [(i, j) for i, (ti, _) in enumerate(correct) for j, (tj, _) in enumerate(incorrect) if ti != tj]
    rng.shuffle(candidates)
    uses_c, uses_w, picked = defaultdict(int), defaultdict(int), []
    for i, j in candidates:
        if len(picked) == max_pairs:
            break
        if uses_c[i] < max_uses and uses_w[j] < max_uses:
            picked.append((i, j))
            uses_c[i] += 1
            uses_w[j] += 1
    return picked


def rm_rows_from_tree(tree: Tree, rng: random.Random) -> list[dict]:
    """Augmented single-turn pairs of one tree: chosen/rejected actions of different turns."""
    correct = [(t.turn, t.chosen_action.text) for t in tree.turns if t.chosen is not None]
    incorrect = [(t.turn, t.rejected_action.text) for t in tree.turns if t.rejected is not None]
    meta = {"task": tree.task["task"], "dataset": tree.task["dataset"], "instruction": tree.instruction,
            "hash": tree.hash, "depth": tree.depth, "parent_id": tree.parent_id}
    return _rm_rows(meta, correct, incorrect, rng)


def rm_rows_from_pair_rows(rows: Iterable[dict], seed: int = 0) -> list[dict]:
    """The same augmentation on released-format pair rows (ours or `openbmb/UltraInteract_pair`).

    Rows sharing an id hash form one tree: row turn t gives the correct action of turn t, and
    its rejected action plus the assistant turns of its trajectory give the incorrect ones.
    """
    trees: dict[str, dict] = {}
    for row in rows:
        hash_, depth, turn = row["id"].rsplit("_", 2)
        tree = trees.setdefault(hash_, {"meta": {"task": row["task"], "dataset": row["dataset"],
                                                 "instruction": row["trajectory"][0]["value"], "hash": hash_,
                                                 "depth": int(depth), "parent_id": row["parent_id"]},
                                        "correct": {}, "incorrect": {}})
        tree["correct"][int(turn)] = row["chosen"]
        tree["incorrect"][int(turn)] = row["rejected"]
        earlier = [m["value"] for m in row["trajectory"] if m["from"] == "assistant"]
        for k, text in enumerate(earlier, 1):
            tree["incorrect"].setdefault(k, text)
    out = []
    for hash_ in sorted(trees):
        t = trees[hash_]
        out += _rm_rows(t["meta"], sorted(t["correct"].items()), sorted(t["incorrect"].items()),
                        random.Random(f"{seed}:{hash_}"))
    return out


def _rm_rows(meta: dict, correct: list, incorrect: list, rng: random.Random) -> list[dict]:
    rows = []
    for i, j in augment_pairs(correct, incorrect, rng, **RM_LIMITS):
        (tc, chosen), (tr, rejected) = correct[i], incorrect[j]
        rows.append({"task": meta["task"], "dataset": meta["dataset"],
                     "trajectory": [{"from": "user", "value": meta["instruction"]}],
                     "chosen": chosen, "rejected": rejected, "id": f"{meta['hash']}_{meta['depth']}_{tc}-{tr}",
                     "parent_id": meta["parent_id"], "chosen_turn": tc, "rejected_turn": tr})
    return rows
