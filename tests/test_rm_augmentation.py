"""The reward model's cross-turn pairs (paper App. B), checked against trees written out by hand.

Every expected pair below was worked out by hand from the rows above it, not with the module's
own helpers. Notation: a row of turn t says "c_t beats w_t" after a history that holds the
incorrect actions of turns 1..t-1 (each followed by a user turn with feedback); "I" is the
instruction. Run: `.venv/bin/python -m pytest tests/test_rm_augmentation.py`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from eurus_lib.ultrainteract import rm_augmented_pairs, validate_rows

PAIR_FILE = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "ultrainteract_pair_sample.jsonl"


def row(row_id: str, history: list[str], chosen: str, rejected: str, parent_id: str = "P") -> dict:
    """One released-format pair row; `history` alternates user and assistant texts, from the instruction."""
    trajectory = [{"from": ("user", "assistant")[k % 2], "value": v} for k, v in enumerate(history)]
    return {"task": "Math_PoT", "dataset": "hand", "trajectory": trajectory, "chosen": chosen, "rejected": rejected,
            "id": row_id, "parent_id": parent_id}


def pairs(rows, **kw) -> list[tuple[str, str]]:
    return sorted((r["chosen"], r["rejected"]) for r in rm_augmented_pairs(rows, **kw))


DEPTH_1 = [row("h_1_1", ["I"], "c1", "w1")]
DEPTH_2 = [row("h_2_1", ["I"], "c1", "w1"),
           row("h_2_2", ["I", "w1", "F1"], "c2", "w2")]
DEPTH_3 = [row("h_3_1", ["I"], "c1", "w1"),
           row("h_3_2", ["I", "w1", "F1"], "c2", "w2"),
           row("h_3_3", ["I", "w1", "F1", "w2", "F2"], "c3", "w3")]
# The tiny preset: the ground-truth action GT is the correct action at every turn.
TINY_DEPTH_3 = [row("h_3_1", ["I"], "GT", "w1"),
                row("h_3_2", ["I", "w1", "F1"], "GT", "w2"),
                row("h_3_3", ["I", "w1", "F1", "w2", "F2"], "GT", "w3")]
TINY_DEPTH_4 = [row("h_4_1", ["I"], "GT", "W"),
                row("h_4_2", ["I", "W", "F1"], "GT", "W"),
                row("h_4_3", ["I", "W", "F1", "W", "F2"], "GT", "W"),
                row("h_4_4", ["I", "W", "F1", "W", "F2", "W", "F3"], "GT", "W")]
DEPTH_5_REPEATING = [row("h_5_1", ["I"], "GT", "w"),
                     row("h_5_2", ["I", "w", "F"], "GT", "w"),
                     row("h_5_3", ["I", "w", "F", "w", "F"], "GT", "v"),
                     row("h_5_4", ["I", "w", "F", "w", "F", "v", "F"], "GT", "w"),
                     row("h_5_5", ["I", "w", "F", "w", "F", "v", "F", "w", "F"], "GT", "v")]


def test_a_depth_one_tree_has_only_its_same_turn_pair_so_nothing_is_added():
    assert pairs(DEPTH_1) == []


def test_a_depth_two_tree_gives_its_two_cross_turn_pairs():
    # Grid c1,c2 x w1,w2 = 4; drop c1-w1 and c2-w2 (same turn).
    assert pairs(DEPTH_2) == [("c1", "w2"), ("c2", "w1")]


def test_a_depth_three_tree_gives_its_six_cross_turn_pairs():
    # Grid 3 x 3 = 9 <= 10; drop the 3 same-turn pairs; no cap binds (each action used twice, 6 <= 9).
    assert pairs(DEPTH_3) == [("c1", "w2"), ("c1", "w3"), ("c2", "w1"), ("c2", "w3"), ("c3", "w1"), ("c3", "w2")]


def test_a_correct_text_that_recurs_is_matched_by_turn_not_by_its_first_turn():
    # Slots GT@1, GT@2, GT@3 against w1@1, w2@2, w3@3. Cross-turn: GT@1-w2, GT@1-w3, GT@2-w1, GT@2-w3,
    # GT@3-w1, GT@3-w2; as texts each of (GT, w1), (GT, w2), (GT, w3) twice, and a repeated row is emitted once.
    # GT@2-w1 is a cross-turn pair although GT is also the correct action of turn 1.
    assert pairs(TINY_DEPTH_3) == [("GT", "w1"), ("GT", "w2"), ("GT", "w3")]


def test_an_incorrect_text_that_recurs_counts_once_per_turn_for_the_use_cap():
    # w is the wrong action of turns 1 and 2. Slots: c1a, c1b @1; c2a, c2b @2; w@1, w@2.
    # Cross-turn: c1a-w@2, c1b-w@2, c2a-w@1, c2b-w@1: each w slot used twice (<= 3), so all four are kept,
    # and the text "w" appears 4 times: one slot is one use, whatever its text.
    rows = [row("h_2_1", ["I"], "c1a", "w"), row("h_2_1", ["I"], "c1b", "w"),
            row("h_2_2", ["I", "w", "F1"], "c2a", "w"), row("h_2_2", ["I", "w", "F1"], "c2b", "w")]
    assert pairs(rows) == [("c1a", "w"), ("c1b", "w"), ("c2a", "w"), ("c2b", "w")]


def test_a_pair_whose_chosen_and_rejected_texts_are_equal_is_never_emitted():
    # x is correct at turn 1 and incorrect at turn 2: the cross-turn pair x@1-x@2 would say x beats x.
    rows = [row("h_2_1", ["I"], "x", "w1"), row("h_2_2", ["I", "w1", "F1"], "c2", "x")]
    assert pairs(rows) == [("c2", "w1")]


def test_depth_four_and_five_trees_are_dropped_even_when_their_texts_repeat():
    # N is the depth in the id: 4 x 4 = 16 > 10 and 5 x 5 = 25 > 10, although TINY_DEPTH_4 has only 2 distinct texts.
    assert pairs(TINY_DEPTH_4) == [] and pairs(DEPTH_5_REPEATING) == []
    assert len({r["chosen"] for r in TINY_DEPTH_4} | {r["rejected"] for r in TINY_DEPTH_4}) == 2


def test_a_missing_turn_is_rebuilt_from_the_history_of_a_later_turn():
    # Rows at turns 1 and 3 only (turn 2 had no correct action in the released rows); w2 is in turn 3's history.
    # Slots: c1@1, c3@3; w1@1, w2@2, w3@3. Cross-turn: c1-w2, c1-w3, c3-w1, c3-w2.
    rows = [DEPTH_3[0], DEPTH_3[2]]
    assert pairs(rows) == [("c1", "w2"), ("c1", "w3"), ("c3", "w1"), ("c3", "w2")]


def test_at_most_nine_pairs_and_three_uses_per_action():
    # Depth 3 with three correct actions per turn: 9 correct slots, w1, w2, w3 one slot each.
    # Each c_t.k has 2 cross-turn partners (18 candidates); each w slot takes at most 3, so exactly 9 pairs,
    # every w used exactly 3 times, and its partners come from the other two turns.
    rows = [row(f"h_3_{t}", ["I"] + sum(([f"w{k}", f"F{k}"] for k in range(1, t)), []), f"c{t}.{k}", f"w{t}")
            for t in (1, 2, 3) for k in range(3)]
    for seed in range(5):
        got = pairs(rows, seed=seed)
        assert len(got) == 9 and Counter(w for _, w in got) == {"w1": 3, "w2": 3, "w3": 3}
        assert all(c[1] != w[1] for c, w in got) and max(Counter(c for c, _ in got).values()) <= 3


def test_a_wrong_text_repeated_at_every_turn_is_three_actions_each_with_its_own_use_cap():
    # One wrong text W at every turn of a depth-3 tree, three correct actions per turn (distinct texts).
    # Slots W@1, W@2, W@3 may each be used 3 times: up to 9 pairs with "W" in all of them (a text cap would allow 3).
    # Each c is paired at most once (c-W@j and c-W@k are the same row). A shortfall leaves a c whose two
    # W slots are full, so at least 6.
    rows = [row(f"h_3_{t}", ["I"] + ["W", "F"] * (t - 1), f"c{t}.{k}", "W") for t in (1, 2, 3) for k in range(3)]
    got = pairs(rows)
    assert 6 <= len(got) <= 9 and {w for _, w in got} == {"W"} and len(set(got)) == len(got)


def test_an_instruction_is_kept_only_when_each_of_its_trees_has_n_by_n_at_most_10():
    other_tree = [row("k_4_1", ["I"], "d1", "v1")]  # a second tree of P, depth 4
    assert pairs(DEPTH_2 + other_tree) == []
    depth_1_tree = [row("k_1_1", ["I"], "d1", "v1")]
    assert pairs(DEPTH_2 + depth_1_tree) == [("c1", "w2"), ("c2", "w1")]  # pairs stay within one tree


def test_rows_are_single_turn_released_rows_deterministic_and_independent_of_row_order():
    rows = DEPTH_3 + [row("g_2_1", ["J"], "d1", "v1", parent_id="Q"), row("g_2_2", ["J", "v1", "G"], "d2", "v2", "Q")]
    extra = rm_augmented_pairs(rows, seed=3)
    validate_rows(extra, "pair")
    assert all(r["trajectory"] == [{"from": "user", "value": "I" if r["parent_id"] == "P" else "J"}] for r in extra)
    assert sorted(r["id"] for r in extra if r["parent_id"] == "Q") == ["Q-rm0_2_1", "Q-rm1_2_1"]
    assert {r["task"] for r in extra} == {"Math_PoT"} and {r["dataset"] for r in extra} == {"hand"}
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert rm_augmented_pairs(shuffled, seed=3) == extra == rm_augmented_pairs(rows, seed=3)


def test_the_docstring_example_holds():
    from eurus_lib.ultrainteract import augment

    assert "c1 > w2 and c2 > w1" in augment.__doc__
    assert pairs(DEPTH_2) == [("c1", "w2"), ("c2", "w1")]
    assert [r["id"] for r in rm_augmented_pairs(DEPTH_2)] == ["P-rm0_2_1", "P-rm1_2_1"]


def test_released_fixture_keeps_the_depth_three_tree_and_drops_the_depth_five_one():
    released = [json.loads(line) for line in PAIR_FILE.read_text().splitlines() if line.strip()]
    depth = {r["parent_id"]: int(r["id"].rsplit("_", 2)[1]) for r in released}
    extra = rm_augmented_pairs(released)
    validate_rows(extra, "pair")
    kept = Counter(r["parent_id"] for r in extra)
    assert {depth[p] for p in kept} == {3} and sum(kept.values()) == 6  # depth 5 dropped; depth 1 has none
