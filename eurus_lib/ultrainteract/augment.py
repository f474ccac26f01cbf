"""The reward model's cross-turn augmentation (paper App. B), computed from released-format pair rows.

    extra = rm_augmented_pairs(pair_rows, seed=0)    # single-turn pair rows, same schema

Example: a depth-2 tree with rows `h_2_1` (c1 beats w1) and `h_2_2` (c2 beats w2, after w1 and its
feedback) gives the two pairs c1 > w2 and c2 > w1, each with the instruction alone as prompt, with
ids `<parent_id>-rm0_2_1` and `<parent_id>-rm1_2_1`.

Paper App. B: "match every correct action of an instruction with incorrect actions from other
turns", giving N x N single-turn pairs for a depth-N trajectory; same-turn pairs are dropped
because the multi-turn set has them; only instructions with N x N <= 10 are kept (so depth <= 3);
at most 9 pairs are sampled per instruction, each action used at most 3 times (240K pairs).

How that reads on rows (pure on rows: the tree builder calls this on its own `pairs.jsonl`, the RM
stage on the released UltraInteract_pair rows):
- A trajectory is the rows of one instruction (`parent_id`) that share the hash of their id
  `<hash>_<depth>_<turn>`; N is the depth in the id. An instruction is kept when N x N <= 10 for
  each of its trajectories; pairs are formed within one trajectory, the caps hold per instruction.
- An action is a slot (trajectory, turn, role, text): the row of turn t gives the correct action
  (`chosen`) and an incorrect action (`rejected`) of turn t, and the assistant turns of its
  `trajectory` are the incorrect actions of turns 1..t-1 that were expanded (this recovers a
  turn that has no row of its own). Rows of one turn that repeat a text repeat one action; the
  same text at another turn is another action: on the `tiny` preset the ground-truth action is
  the correct action of every turn, which is N slots, not one.
- A same-turn pair is the correct action of turn i with an incorrect action of turn i; it is
  dropped. The correct action of turn i with an incorrect action of turn j != i is a cross-turn
  pair, even when the same text is also the correct action of turn j.
- One use of an action is one pair of its slot, whatever other slots share its text.
- Never emitted: a pair whose chosen and rejected texts are equal, and a second pair with the
  same (chosen, rejected) texts as one already taken for the instruction (with the instruction
  alone as prompt they would be the same row twice).
- Sampling: the cross-turn candidates, in a fixed order, are shuffled with a generator seeded by
  (seed, parent_id) and taken in that order, skipping a pair whose slots already have 3 uses,
  until 9 are taken. So the result depends only on the rows' content and the seed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .schema import parse_pair_id

MAX_GRID = 10  # keep instructions with N x N <= 10
MAX_PAIRS = 9  # pairs sampled per instruction
MAX_USES = 3  # times one action (slot) may appear


@dataclass(frozen=True, order=True)
class Slot:
    """One action of a tree: its trajectory (id hash), turn, role ("correct" or "incorrect") and text."""

    trajectory: str
    turn: int
    role: str
    text: str


def group_trees(rows: Iterable[dict]) -> dict[str, list[dict]]:
    """parent_id -> that instruction's pair rows, sorted by turn."""
    trees: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        trees[row["parent_id"]].append(row)
    return {pid: sorted(group, key=lambda r: parse_pair_id(r["id"])[2]) for pid, group in trees.items()}


def action_slots(group: list[dict]) -> list[Slot]:
    """The actions of one instruction's rows as slots, sorted (see the module docstring)."""
    slots = set()
    for row in group:
        trajectory, _, turn = parse_pair_id(row["id"])
        slots.add(Slot(trajectory, turn, "correct", row["chosen"]))
        slots.add(Slot(trajectory, turn, "incorrect", row["rejected"]))
        for k, step in enumerate(row["trajectory"][1::2], 1):  # assistant turns: the expanded wrong actions
            slots.add(Slot(trajectory, k, "incorrect", step["value"]))
    return sorted(s for s in slots if s.text.strip())


def depths(group: list[dict]) -> dict[str, int]:
    """Trajectory hash -> its depth N, as the rows' ids give it."""
    out: dict[str, int] = {}
    for row in group:
        trajectory, depth, _ = parse_pair_id(row["id"])
        out[trajectory] = max(depth, out.get(trajectory, 0))
    return out


def rm_augmented_pairs(rows: Iterable[dict], *, max_grid: int = MAX_GRID, max_pairs: int = MAX_PAIRS,
                       max_uses: int = MAX_USES, seed: int = 0) -> list[dict]:
    """Single-turn cross-turn pairs in the UltraInteract_pair schema (ids `<parent_id>-rm<k>_<depth>_1`)."""
    out = []
    for parent_id, group in sorted(group_trees(rows).items()):
        depth = depths(group)
        if any(n * n > max_grid for n in depth.values()):
            continue
        rng = random.Random(f"{seed}:{parent_id}")
        picked = sample_pairs(rng, cross_turn_pairs(action_slots(group)), max_pairs, max_uses)
        first = {parse_pair_id(r["id"])[0]: r for r in reversed(group)}  # trajectory -> its first row
        out += [_row(first[good.trajectory], parent_id, k, depth[good.trajectory], good, bad)
                for k, (good, bad) in enumerate(sorted(picked))]
    return out


def cross_turn_pairs(slots: list[Slot]) -> list[tuple[Slot, Slot]]:
    """(correct, incorrect) slots of one trajectory and different turns, with different texts."""
    correct = [s for s in slots if s.role == "correct"]
    incorrect = [s for s in slots if s.role == "incorrect"]
    return [(c, w) for c in correct for w in incorrect
            if c.trajectory == w.trajectory and c.turn != w.turn and c.text != w.text]


def sample_pairs(rng: random.Random, candidates: list[tuple[Slot, Slot]], max_pairs: int,
                 max_uses: int) -> list[tuple[Slot, Slot]]:
    """Shuffle, then take pairs in order while no slot exceeds `max_uses` and no text pair repeats."""
    candidates = list(candidates)
    rng.shuffle(candidates)
    uses: Counter = Counter()
    texts, picked = set(), []
    for good, bad in candidates:
        if len(picked) == max_pairs:
            break
        if uses[good] >= max_uses or uses[bad] >= max_uses or (good.text, bad.text) in texts:
            continue
        uses.update((good, bad))
        texts.add((good.text, bad.text))
        picked.append((good, bad))
    return picked


def _row(source: dict, parent_id: str, k: int, depth: int, good: Slot, bad: Slot) -> dict:
    return {
        "task": source["task"], "dataset": source["dataset"],
        "trajectory": [dict(source["trajectory"][0])],  # the instruction alone: single-turn pairs
        "chosen": good.text, "rejected": bad.text,
        "id": f"{parent_id}-rm{k}_{depth}_1", "parent_id": parent_id,
    }
