"""Tree growth (paper section 2.3) with scripted actors and an instant executor: no model, no sandbox."""

import random

from trees_support import (
    BROKEN,
    RIGHT,
    WRONG,
    ScriptedActor,
    alternating,
    fake_executor,
    instruction,
    math_task,
    settings,
)

from eurus_lib.trees import Environment, RuleCritic, grow_trees, pair_rows, select_pair, sft_rows
from eurus_lib.trees.tree import Action


def grow(tasks, actors, **kw):
    env = Environment(fake_executor)
    return grow_trees(tasks, actors=actors, environment=env, critic=RuleCritic(), settings=settings(**kw),
                      instruction=instruction, progress=False)


def test_correct_action_ends_trajectory():
    [tree] = grow([math_task()], [ScriptedActor("a", alternating(RIGHT))])
    assert tree.depth == 1 and tree.end == "no_incorrect"
    turn = tree.turns[0]
    assert turn.chosen_action.text == RIGHT and turn.rejected is None and turn.feedback is None
    assert len(sft_rows(tree)) == 1 and pair_rows(tree) == []


def test_incorrect_action_is_expanded_to_next_turn():
    actor = ScriptedActor("a", alternating(WRONG, RIGHT))
    [tree] = grow([math_task()], [actor], max_turns=2)
    first = tree.turns[0]
    assert first.rejected_action.text == WRONG and first.chosen_action.text == RIGHT
    assert first.feedback.startswith("Out: 12\nYour answer is wrong.\n")
    assert first.rejected_action.critique in first.feedback
    turn2_conversation = actor.calls[1][0]
    assert [m["role"] for m in turn2_conversation] == ["system", "user", "assistant", "user"]
    assert turn2_conversation[2]["content"] == WRONG and turn2_conversation[3]["content"] == first.feedback
    assert tree.depth == 2 and [len(r["trajectory"]) for r in pair_rows(tree)] == [1, 3]


def test_tree_stops_at_max_turns_with_the_last_incorrect_action_unexpanded():
    [tree] = grow([math_task()], [ScriptedActor("a", alternating(WRONG))], max_turns=3)
    assert tree.depth == 3 and tree.end == "max_turns"
    assert [t.feedback is not None for t in tree.turns] == [True, True, False]
    assert len(pair_rows(tree)) == 3


def test_ground_truth_fallback_when_no_actor_is_correct():
    [tree] = grow([math_task()], [ScriptedActor("a", alternating(WRONG))], max_turns=1)
    chosen = tree.turns[0].chosen_action
    assert chosen.source == "ground_truth" and chosen.actor == "ground_truth" and chosen.correct
    assert chosen.text.startswith("Step 1: Ann starts with 3 apples.") and "```python" in chosen.text


def test_stronger_actor_is_tried_before_the_ground_truth():
    weak, strong = ScriptedActor("weak", alternating(WRONG)), ScriptedActor("strong", alternating(RIGHT))
    [tree] = grow([math_task()], [weak, strong], max_turns=1)
    turn = tree.turns[0]
    assert (turn.chosen_action.actor, turn.chosen_action.source) == ("strong", "sampled")
    assert turn.rejected_action.actor == "weak"
    assert len(strong.calls) == 1 and all(a.source != "ground_truth" for a in turn.actions)


def test_annotation_shows_the_reference_and_is_recorded_as_annotated():
    def reply(conv):  # right only when the system prompt carries the ground-truth solution
        return RIGHT if "reference solution" in conv[0]["content"] else WRONG

    [tree] = grow([math_task()], [ScriptedActor("a", reply)], max_turns=1, annotate_samples=1)
    chosen = tree.turns[0].chosen_action
    assert (chosen.source, chosen.actor) == ("annotated", "a")


def test_math_cot_annotation_masks_the_answer_numbers():
    actor = ScriptedActor("a", alternating(WRONG))
    grow([math_task(label="Math_CoT")], [actor], max_turns=1, annotate_samples=1)
    system = actor.calls[1][0][0]["content"]
    assert "3 + 4 = ?" in system and "The answer is ?" in system and "= 7" not in system


def test_action_that_fails_the_syntax_check_is_never_the_rejected_one():
    [tree] = grow([math_task()], [ScriptedActor("a", alternating(BROKEN, RIGHT))], max_turns=2)
    assert tree.turns[0].rejected is None and tree.end == "no_incorrect"
    [tree] = grow([math_task()], [ScriptedActor("a", alternating(BROKEN, RIGHT))], max_turns=2, syntax_check=False)
    assert tree.turns[0].rejected_action.text == BROKEN
    assert "SyntaxError" in tree.turns[0].feedback


def test_live_trees_are_sampled_together_in_one_call_per_turn():
    actor = ScriptedActor("a", alternating(WRONG))
    trees = grow([math_task(k) for k in range(5)], [actor], max_turns=2, samples_per_turn=3)
    assert len(trees) == 5 and len(actor.calls) == 2
    assert [len(c) for c in actor.calls] == [15, 15]


def test_live_window_refills_as_trees_finish():
    actor = ScriptedActor("a", alternating(WRONG))
    trees = grow([math_task(k) for k in range(5)], [actor], max_turns=1, live_trees=2, samples_per_turn=1)
    assert len(trees) == 5 and [len(c) for c in actor.calls] == [2, 2, 1]


def test_every_action_records_schema_source_and_judgement():
    [tree] = grow([math_task()], [ScriptedActor("a", alternating(WRONG, RIGHT))], max_turns=1, samples_per_turn=4)
    actions = tree.turns[0].actions
    assert len(actions) == 4 and {a.schema for a in actions} <= {"cot", "modular"}
    assert [a.correct for a in actions] == [False, True, False, True]
    assert all(a.source == "sampled" and a.actor == "a" and a.ran_code for a in actions)
    assert [a.observation for a in actions] == ["12", "7", "12", "7"]


def test_select_pair_prefers_a_correct_action_from_another_actor():
    acts = [Action("w", "cot", "weak", "sampled", False), Action("c1", "cot", "weak", "sampled", True),
            Action("c2", "cot", "strong", "sampled", True)]
    for seed in range(10):
        assert select_pair(acts, random.Random(seed)) == (2, 0)


def test_growth_is_reproducible_for_a_seed():
    def run():
        return [t.to_dict() for t in grow([math_task(k) for k in range(3)],
                                          [ScriptedActor("a", alternating(WRONG, RIGHT, WRONG))], max_turns=3)]

    assert run() == run()
