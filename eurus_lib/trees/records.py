"""Released-format rows from trees: the schemas of UltraInteract_sft and UltraInteract_pair.

    sft_rows(tree)    # [{"task", "dataset", "instruction", "response", "id", "parent_id"}, ...]
    pair_rows(tree)   # [{"task", "dataset", "trajectory", "chosen", "rejected", "id", "parent_id"}, ...]
    distinct_sft_rows(rows)   # what the SFT stage trains on: each (instruction, response) once

The reward model's cross-turn augmentation (paper App. B) is computed from these pair rows by
`eurus_lib.ultrainteract.rm_augmented_pairs`, the same function that augments the released data.

Field names and order follow `openbmb/UltraInteract_sft` and `openbmb/UltraInteract_pair`
(eurus-paper.md section 1.5). Ids are `<hash>_<depth>_<turn>`: the tree's hash, its depth
(number of turns) and the turn of the row; `parent_id` is the instruction's id. SFT keeps the
correct leaves only, with the interaction history dropped (section 3: "yields better
performance"); a pair's `trajectory` is the shared history, ending with a user turn.

`sft.jsonl` keeps one row per correct leaf, as released, so the same response can appear at
several turns of a tree (on the `tiny` preset the ground-truth action is often the correct action
of every turn). `stats.json` says how many rows are distinct.
"""

from __future__ import annotations

from collections.abc import Iterable

from .tree import Tree


def row_id(tree: Tree, turn: int) -> str:
    return f"{tree.hash}_{tree.depth}_{turn}"


def sft_rows(tree: Tree) -> list[dict]:
    """One row per correct leaf: the chosen action of every turn, answering the bare instruction."""
    return [{"task": tree.task["task"], "dataset": tree.task["dataset"], "instruction": tree.instruction,
             "response": turn.chosen_action.text, "id": row_id(tree, turn.turn), "parent_id": tree.parent_id}
            for turn in tree.turns if turn.chosen is not None]


def distinct_sft_rows(rows: Iterable[dict]) -> list[dict]:
    """The first row of each (instruction, response), in order: the rows SFT trains on.

    With the history dropped, a response that recurs at several turns of a tree gives identical
    rows: the same example counted once per turn, which would weight deep trees more for no reason
    the paper gives (its rows are distinct sampled actions, paper section 3 / Table 1 "#Correct").
    """
    seen, out = set(), []
    for row in rows:
        key = (row["instruction"], row["response"])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


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
