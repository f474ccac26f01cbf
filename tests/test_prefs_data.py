"""The preference stage's data: bad pairs counted and skipped, one length-grouped batch order, KTO's layout."""

import pytest

from eurus_lib.errors import KitError
from eurus_lib.prefs.data import (
    Pair,
    batch_order,
    describe_skipped,
    dpo_rows,
    drop_kto_leftover,
    kl_reference_rows,
    kl_sources,
    kto_layout,
    kto_rows,
    usable_pairs,
)


def pair(i, chosen="right", rejected="wrong", history="solve it"):
    return {"id": f"p{i}", "trajectory": [{"from": "user", "value": history}],
            "chosen": f"{chosen} {i}" if chosen.strip() else chosen,
            "rejected": f"{rejected} {i}" if rejected.strip() else rejected}


def length_of_words(row):
    return len((row["trajectory"][0]["value"] + " " + max(row["chosen"], row["rejected"], key=len)).split())


def test_bad_pairs_are_skipped_and_counted_by_reason():
    rows = [pair(0), pair(1, chosen=""), pair(2, rejected="  "), pair(3, history=""),
            {**pair(4), "rejected": "right 4"}, pair(5, history="a very long history " * 5), pair(6)]
    kept, skipped = usable_pairs(rows, length_of_words, max_len=8)
    assert [p.id for p in kept] == ["p0", "p6"]
    assert skipped == {"empty": 3, "same": 1, "too_long": 1}
    assert describe_skipped(skipped) == ("3 with an empty prompt, chosen or rejected text, 1 with chosen identical "
                                         "to rejected, 1 with prompt + response longer than the limit")


def test_a_pair_identical_up_to_surrounding_space_counts_as_the_same_answer():
    _, skipped = usable_pairs([pair(0), {**pair(1), "chosen": " wrong 1\n"}], length_of_words, max_len=99)
    assert skipped == {"same": 1}


def test_no_usable_pair_is_a_clear_error():
    with pytest.raises(KitError, match="No usable preference pairs among 2 rows.*2 with chosen identical"):
        usable_pairs([{**pair(0), "rejected": "right 0"}, {**pair(1), "rejected": "right 1"}], length_of_words, 99)


def test_max_pairs_keeps_the_first_usable_pairs():
    kept, _ = usable_pairs([pair(i) for i in range(5)], length_of_words, 99, max_pairs=2)
    assert [p.id for p in kept] == ["p0", "p1"]


def test_batch_order_uses_every_index_once_with_a_short_batch_last():
    lengths = [5, 90, 7, 60, 8, 61, 3, 92, 6, 59, 4]
    batches = batch_order(lengths, batch_size=3, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(11))
    assert [len(b) for b in batches] == [3, 3, 3, 2]


def test_batches_group_similar_lengths():
    lengths = [5, 90, 7, 60, 8, 61, 3, 92, 6, 59, 4, 91]
    for batch in batch_order(lengths, batch_size=3, seed=1):
        assert max(lengths[i] for i in batch) - min(lengths[i] for i in batch) <= 3


def test_batch_order_depends_on_the_seed_only():
    lengths = list(range(40))
    assert batch_order(lengths, 4, seed=3) == batch_order(lengths, 4, seed=3)
    assert batch_order(lengths, 4, seed=3) != batch_order(lengths, 4, seed=4)


def test_a_last_batch_of_one_pair_is_dropped_for_kto_and_counted():
    skipped = {}
    assert drop_kto_leftover([[0, 1], [2]], skipped) == [[0, 1]]
    assert skipped == {"kto_leftover": 1}
    with pytest.raises(KitError, match="KTO needs at least 2 pairs per batch"):
        drop_kto_leftover([[0]], {})


def test_kto_batches_hold_both_sides_of_the_same_pairs_desirable_first():
    assert kto_layout([4, 7, 2]) == [(4, True), (7, True), (2, True), (4, False), (7, False), (2, False)]


def test_kl_rows_rotate_completions_by_one_as_trl_does_and_never_match_their_own_prompt():
    batch = [4, 7, 2]
    rows = kto_layout(batch)
    completions = [f"{i}{'c' if d else 'r'}" for i, d in rows]
    trl_rotation = [completions[-1]] + completions[:-1]  # kto_trainer.py add_kl_completion_ids
    assert [f"{i}{'c' if d else 'r'}" for i, d in kl_sources(batch)] == trl_rotation
    assert all(src[0] != row[0] for row, src in zip(rows, kl_sources(batch), strict=True))


def test_kl_reference_rows_carry_each_pairs_prompt_with_its_two_kl_completions():
    pairs = [Pair(pair(i), 10) for i in range(3)]
    rows = kl_reference_rows(pairs, [[0, 1], [2]])
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert rows[0]["kl_from"] == ["p1/rejected", "p1/chosen"]  # first row of a batch: the last row's completion
    assert rows[1]["kl_from"] == ["p0/chosen", "p0/rejected"]
    assert rows[1]["chosen"] == [{"role": "assistant", "content": "right 0"}]
    assert rows[2]["kl_from"] == ["p2/rejected", "p2/chosen"]  # a batch of one: why KTO drops it


def test_training_rows_carry_the_shared_reference_values_in_batch_order():
    pairs = [Pair(pair(i), 10) for i in range(2)]
    ref = {f"p{i}": {"chosen": -i - 0.5, "rejected": -i - 0.9, "kl_desirable": -7.0 - i, "kl_undesirable": -8.0 - i}
           for i in range(2)}
    dpo = dpo_rows(pairs, [[1, 0]], ref)
    assert [(r["chosen"][0]["content"], r["ref_chosen_logps"], r["ref_rejected_logps"]) for r in dpo] == [
        ("right 1", -1.5, -1.9), ("right 0", -0.5, -0.9)]
    kto = kto_rows(pairs, [[1, 0]], ref)
    assert [(r["completion"][0]["content"], r["label"], r["ref_logps"], r["ref_KL_logps"]) for r in kto] == [
        ("right 1", True, -1.5, -8.0), ("right 0", True, -0.5, -7.0),
        ("wrong 1", False, -1.9, -9.0), ("wrong 0", False, -0.9, -8.0)]
    assert kto[0]["prompt"] == [{"role": "user", "content": "solve it"}]
