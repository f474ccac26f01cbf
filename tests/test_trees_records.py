"""Released-format rows, the RM augmentation, statistics and the resumable store."""

import json
import random
import re

import pytest
from test_trees_fakes import (
    RIGHT,
    WRONG,
    ScriptedActor,
    alternating,
    fake_executor,
    instruction,
    math_task,
    settings,
)

from eurus_lib.trees import (
    Environment,
    RuleCritic,
    TreeStore,
    augment_pairs,
    build_trees,
    grow_trees,
    pair_rows,
    render_tree,
    rm_rows_from_pair_rows,
    rm_rows_from_tree,
    sft_rows,
    stats_markdown,
    tree_stats,
)
from eurus_lib.trees.records import PAIR_FIELDS, SFT_FIELDS

ID = re.compile(r"^[0-9a-f]{64}_\d+_\d+$")


def grow(tasks, reply, **kw):
    return grow_trees(tasks, actors=[ScriptedActor("a", reply)], environment=Environment(fake_executor),
                      critic=RuleCritic(), settings=settings(**kw), instruction=instruction, progress=False)


@pytest.fixture(scope="module")
def deep_tree():
    return grow([math_task()], alternating(WRONG), max_turns=3)[0]


def test_sft_rows_have_the_released_schema_and_drop_history(deep_tree):
    rows = sft_rows(deep_tree)
    assert [tuple(r) for r in rows] == [SFT_FIELDS] * 3
    assert SFT_FIELDS == ("task", "dataset", "instruction", "response", "id", "parent_id")
    assert all(r["instruction"] == instruction(math_task()) for r in rows)
    assert [r["id"] for r in rows] == [f"{deep_tree.hash}_3_{t}" for t in (1, 2, 3)]
    assert all(ID.match(r["id"]) and r["parent_id"] == math_task().id for r in rows)
    assert all(isinstance(r[k], str) for r in rows for k in SFT_FIELDS)


def test_pair_rows_have_the_released_schema_and_a_trajectory_ending_with_a_user_turn(deep_tree):
    rows = pair_rows(deep_tree)
    assert PAIR_FIELDS == ("task", "dataset", "trajectory", "chosen", "rejected", "id", "parent_id")
    assert [tuple(r) for r in rows] == [PAIR_FIELDS] * 3
    assert [r["id"].rsplit("_", 2)[1:] for r in rows] == [["3", "1"], ["3", "2"], ["3", "3"]]
    for k, row in enumerate(rows):
        roles = [m["from"] for m in row["trajectory"]]
        assert roles == ["user"] + ["assistant", "user"] * k and set(row["trajectory"][0]) == {"from", "value"}
        assert row["rejected"] == WRONG and row["chosen"] != WRONG
    assert rows[2]["trajectory"][2]["value"].startswith("Out: 12\nYour answer is wrong.\n")


def test_rows_are_json_round_trippable(deep_tree):
    for row in sft_rows(deep_tree) + pair_rows(deep_tree) + rm_rows_from_tree(deep_tree, random.Random(0)):
        assert json.loads(json.dumps(row)) == row


def turns(n, prefix):
    return [(t, f"{prefix}{t}") for t in range(1, n + 1)]


def test_rm_augmentation_drops_same_turn_pairs():
    pairs = augment_pairs(turns(3, "c"), turns(3, "w"), random.Random(0))
    assert len(pairs) == 6 and all(i != j for i, j in pairs)


def test_rm_augmentation_keeps_only_trees_with_n_by_n_at_most_10():
    assert augment_pairs(turns(3, "c"), turns(3, "w"), random.Random(0))  # 9 <= 10
    assert augment_pairs(turns(4, "c"), turns(4, "w"), random.Random(0)) == []  # 16 > 10
    assert augment_pairs(turns(4, "c"), turns(3, "w"), random.Random(0)) == []  # 12 > 10


@pytest.mark.parametrize("seed", range(5))
def test_rm_augmentation_caps_pairs_and_uses_per_action(seed):
    correct = [(1, "c")]
    incorrect = [(t, f"w{t}") for t in range(2, 12)]  # 1 x 10 = 10, all cross-turn
    pairs = augment_pairs(correct, incorrect, random.Random(seed), max_product=10)
    assert len(pairs) == 3  # the one correct action may be used at most 3 times
    pairs = augment_pairs(correct, incorrect, random.Random(seed), max_product=10, max_uses=20)
    assert len(pairs) == 9  # at most 9 pairs per instruction


def test_rm_rows_from_a_tree_and_from_its_pair_rows_agree():
    trees = grow([math_task(k) for k in range(4)], alternating(WRONG, WRONG, RIGHT, WRONG), max_turns=3)
    from_trees = [r for t in trees for r in rm_rows_from_tree(t, random.Random(f"0:{t.hash}"))]
    from_rows = rm_rows_from_pair_rows([r for t in trees for r in pair_rows(t)], seed=0)
    key = sorted((r["id"], r["chosen"], r["rejected"]) for r in from_trees)
    assert key and key == sorted((r["id"], r["chosen"], r["rejected"]) for r in from_rows)
    assert all(r["chosen_turn"] != r["rejected_turn"] and len(r["trajectory"]) == 1 for r in from_trees)


def test_table1_statistics_count_depths_pairs_and_sources():
    trees = grow([math_task(0), math_task(1), math_task(2)], alternating(RIGHT, RIGHT, WRONG, WRONG, WRONG, WRONG),
                 max_turns=2)
    stats = tree_stats(trees, max_turns=2)
    total = stats["table"][-1]
    assert (total["task"], total["instructions"], total["T1"], total["T2"]) == ("Total", 3, 1, 2)
    assert total["pairs"] == sum(len(pair_rows(t)) for t in trees) == 3
    assert total["correct"] == 5 and stats["turn1_correct_share"] == 0.333
    assert stats["sources"] == {"ground_truth": 3, "sampled:a": 2}
    assert stats["per_turn"][1]["trees"] == 2 and "| Total | 3 | 1 | 2 |" in stats_markdown(stats)


def test_text_view_and_plot_show_every_turn(deep_tree):
    import matplotlib

    matplotlib.use("Agg")
    from eurus_lib.plots.trees import plot_tree, plot_tree_stats

    text = render_tree(deep_tree)
    assert text.count("Turn ") == 3 and "✓ chosen" in text and "✗ rejected" in text and "Critique:" in text
    assert plot_tree(deep_tree).axes and plot_tree_stats(tree_stats([deep_tree], max_turns=3)).axes


class Boom(Exception):
    pass


def test_interrupted_build_resumes_without_losing_or_duplicating_trees(tmp_path):
    tasks = [math_task(k) for k in range(7)]
    kw = {"actors": [ScriptedActor("a", alternating(WRONG, RIGHT, WRONG))], "environment": Environment(fake_executor),
          "critic": RuleCritic(), "settings": settings(max_turns=3, live_trees=3), "instruction": instruction,
          "progress": False}
    seen = []

    def fail_after_three(tree):
        seen.append(tree.parent_id)
        if len(seen) == 3:
            raise Boom

    with pytest.raises(Boom):
        build_trees(tasks, tmp_path, on_tree=fail_after_three, **kw)
    kept = TreeStore(tmp_path / "trees.jsonl").load()
    assert [t.parent_id for t in kept] == seen  # the failing callback ran after the tree was saved
    first = [t.to_dict() for t in kept]
    result = build_trees(tasks, tmp_path, **kw)
    final = TreeStore(tmp_path / "trees.jsonl").load()
    assert result["trees"] == 7 and sorted(t.parent_id for t in final) == sorted(t.id for t in tasks)
    assert len((tmp_path / "trees.jsonl").read_text().splitlines()) == 7
    assert [t.to_dict() for t in final[:3]] == first
    sft = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in sft}) == len(sft) == sum(len(sft_rows(t)) for t in final)


def test_store_drops_a_line_cut_off_mid_write_and_duplicates(tmp_path, deep_tree):
    store = TreeStore(tmp_path / "trees.jsonl")
    store.append(deep_tree)
    store.append(deep_tree)
    with store.path.open("a") as fh:
        fh.write('{"hash": "abc", "parent')
    assert [t.parent_id for t in store.load()] == [deep_tree.parent_id]
    assert store.path.read_text().endswith("\n") and len(store.path.read_text().splitlines()) == 2
