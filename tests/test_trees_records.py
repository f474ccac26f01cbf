"""Released-format rows, the RM augmentation, statistics and the resumable store."""

import json
import re

import pytest
from trees_support import (
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
    build_trees,
    distinct_sft_rows,
    grow_trees,
    pair_rows,
    render_tree,
    sft_rows,
    stats_markdown,
    tree_stats,
)
from eurus_lib.ultrainteract import PAIR_FIELDS, SFT_FIELDS, rm_augmented_pairs, validate_rows

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


def test_rows_pass_the_released_data_validator_and_round_trip_through_json(deep_tree):
    validate_rows(sft_rows(deep_tree), "sft")
    validate_rows(pair_rows(deep_tree), "pair")
    for row in sft_rows(deep_tree) + pair_rows(deep_tree):
        assert json.loads(json.dumps(row)) == row


def test_empty_actions_are_never_rejected_so_rows_stay_valid():
    [tree] = grow([math_task()], alternating("", RIGHT), max_turns=2)
    assert tree.turns[0].rejected is None and pair_rows(tree) == []


def grown_rm_pairs(max_turns, reply):
    trees = grow([math_task(k) for k in range(6)], reply, max_turns=max_turns, samples_per_turn=1)
    return trees, rm_augmented_pairs([r for t in trees for r in pair_rows(t)], seed=0)


def test_rm_pairs_match_correct_and_incorrect_actions_of_different_turns():
    wrong = [f"Step 1: guess.\n```python\nprint({n})\n```" for n in range(20, 60)]
    trees, rm = grown_rm_pairs(3, alternating(*wrong))
    assert rm and all(len(r["trajectory"]) == 1 for r in rm)
    for tree in trees:
        # The ground-truth action (in one of two schemas) is the correct action of every turn; each turn's
        # correct action meets the wrong actions of the other two turns, and a repeated text pair is one row.
        c = [turn.chosen_action.text for turn in tree.turns]
        w = [turn.rejected_action.text for turn in tree.turns]
        expected = {(c[i], w[j]) for i in range(3) for j in range(3) if i != j}
        mine = [(r["chosen"], r["rejected"]) for r in rm if r["parent_id"] == tree.parent_id]
        assert len(set(c)) < 3 and sorted(mine) == sorted(expected)
    validate_rows(rm, "pair")


def test_rm_pairs_skip_trees_deeper_than_three():
    wrong = [f"Step 1: guess.\n```python\nprint({n})\n```" for n in range(20, 80)]
    for depth in (4, 5):  # N x N = 16, 25 > 10, although each tree has only 1 distinct correct text
        trees, rm = grown_rm_pairs(depth, alternating(*wrong))
        assert {t.depth for t in trees} == {depth} and rm == []


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


def test_loading_a_file_with_a_torn_last_line_never_writes_to_it(tmp_path, deep_tree):
    store = TreeStore(tmp_path / "trees.jsonl")
    store.append(deep_tree)
    with store.path.open("a") as fh:
        fh.write('{"hash": "abc", "parent')
    before = store.path.read_bytes()
    store.path.chmod(0o444)  # a read-only run folder (root ignores this; the bytes check below holds anyway)
    try:
        assert len(store.load()) == 1 and store.done_ids() == {deep_tree.parent_id}
    finally:
        store.path.chmod(0o644)
    assert store.path.read_bytes() == before


@pytest.mark.parametrize("resumed", [True, False], ids=["after-load", "without-load"])
def test_appending_after_a_torn_last_line_leaves_a_valid_file(tmp_path, deep_tree, resumed):
    store = TreeStore(tmp_path / "trees.jsonl")
    store.append(deep_tree)
    with store.path.open("a") as fh:
        fh.write('{"hash": "abc", "parent')
    if resumed:  # a resumed build reads the done ids first
        assert store.done_ids() == {deep_tree.parent_id}
    other = grow([math_task(9)], alternating(WRONG), max_turns=2)[0]
    store.append(other)
    lines = store.path.read_text().splitlines()
    assert [json.loads(line)["parent_id"] for line in lines] == [deep_tree.parent_id, other.parent_id]
    assert [t.parent_id for t in store.load()] == [deep_tree.parent_id, other.parent_id]


def test_explorer_tells_correct_and_incorrect_apart_and_steps_through_turns(deep_tree):
    from eurus_lib.trees.explorer import GREEN, RED, tree_explorer, turn_html

    page = turn_html(deep_tree, 2)
    assert f"3px solid {GREEN}" in page and f"3px solid {RED}" in page
    assert "turn 2 of 3" in page and "3 messages" in page and "Your answer is wrong." in page
    assert "Not expanded" in turn_html(deep_tree, 3)
    widget = tree_explorer([deep_tree])
    pick, turn, body = widget.children
    turn.value = 3
    assert "turn 3 of 3" in body.value


def sft_row(instruction, response, turn):
    return {"task": "Math_PoT", "dataset": "hand", "instruction": instruction, "response": response,
            "id": f"h_3_{turn}", "parent_id": "P"}


def test_distinct_sft_rows_keep_the_first_row_of_each_instruction_and_response():
    # The tiny preset's ground-truth action GT is the correct action at turns 1 and 3: one example, not two.
    rows = [sft_row("I", "GT", 1), sft_row("I", "c2", 2), sft_row("I", "GT", 3), sft_row("J", "GT", 1)]
    assert distinct_sft_rows(rows) == [rows[0], rows[1], rows[3]]
    assert distinct_sft_rows([]) == []


def test_stats_count_distinct_sft_rows_and_pairs():
    trees = grow([math_task(k) for k in range(4)], alternating(WRONG), max_turns=3)  # ground truth at each turn
    sft = [r for t in trees for r in sft_rows(t)]
    pairs = [r for t in trees for r in pair_rows(t)]
    distinct_sft = len({(r["instruction"], r["response"]) for r in sft})
    distinct_pairs = len({json.dumps([r["trajectory"], r["chosen"], r["rejected"]]) for r in pairs})
    assert distinct_sft < len(sft) == 12 and distinct_pairs == len(pairs) == 12
    total = tree_stats(trees, max_turns=3)["table"][-1]
    assert (total["correct"], total["correct_distinct"]) == (12, distinct_sft)
    assert (total["pairs"], total["pairs_distinct"]) == (12, 12)
    text = stats_markdown(tree_stats(trees, max_turns=3))
    assert f"{distinct_sft} of 12 SFT rows are distinct" in text and "12 of 12 pairs" in text
