"""Multi-turn evaluation (MINT analog) with scripted actors: feedback turns, batching, success by turn."""

import pytest
from trees_support import RIGHT, WRONG, ScriptedActor, fake_executor, math_task

from eurus_lib.eval.heldout import judge
from eurus_lib.eval.multiturn import interact, success_by_turn, success_table
from eurus_lib.trees import Environment, RuleCritic


def learner(conversation):
    """Wrong at first; right once it has been told it was wrong."""
    return RIGHT if len(conversation) > 1 else WRONG


def test_a_wrong_answer_gets_the_trees_feedback_turn_and_a_second_try():
    actor = ScriptedActor("learner", learner)
    [record] = interact(actor, [math_task()], Environment(fake_executor), RuleCritic(), max_turns=5, progress=False)
    assert record["solved_turn"] == 2 and [t["correct"] for t in record["turns"]] == [False, True]
    feedback = record["turns"][0]["feedback"]
    assert feedback.startswith("Out: 12\nYour answer is wrong.\nYour answer '12' is not correct.")
    second = actor.calls[1][0]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"] == WRONG and second[2]["content"] == feedback
    assert record["turns"][1]["feedback"] is None


def test_only_unsolved_problems_are_asked_again_and_each_turn_is_one_batched_call():
    tasks = [math_task(0), math_task(1), math_task(2)]
    solvers = {tasks[0].prompt: lambda conv: RIGHT, tasks[1].prompt: learner, tasks[2].prompt: lambda conv: WRONG}
    actor = ScriptedActor("mixed", lambda conv: next(f for p, f in solvers.items() if p in conv[0]["content"])(conv))
    records = interact(actor, tasks, Environment(fake_executor), max_turns=3, progress=False)
    assert [r["solved_turn"] for r in records] == [1, 2, None]
    assert [len(call) for call in actor.calls] == [3, 2, 1]
    assert len(records[2]["turns"]) == 3 and records[2]["turns"][-1]["feedback"] is None
    assert success_by_turn(records, max_turns=3) == pytest.approx([1 / 3, 2 / 3, 2 / 3])


def test_turn_one_is_held_out_pass_at_1_with_the_same_judge():
    tasks = [math_task(0), math_task(1)]
    actor = ScriptedActor("fixed", lambda conv: RIGHT if "problem 0" in conv[0]["content"] else WRONG)
    records = interact(actor, tasks, Environment(fake_executor), max_turns=1, progress=False)
    first = judge(tasks, [r["turns"][0]["response"] for r in records], Environment(fake_executor))
    assert [r["turns"][0]["correct"] for r in records] == [f["correct"] for f in first] == [True, False]


def test_given_held_out_answers_are_judged_as_turn_one_and_the_actor_starts_at_turn_two():
    tasks = [math_task(0), math_task(1)]
    actor = ScriptedActor("learner", learner)
    records = interact(actor, tasks, Environment(fake_executor), max_turns=2, progress=False,
                       first_answers=[RIGHT, WRONG])
    assert [r["turns"][0]["response"] for r in records] == [RIGHT.strip(), WRONG.strip()]
    assert [r["solved_turn"] for r in records] == [1, 2]
    assert len(actor.calls) == 1 and len(actor.calls[0]) == 1  # only the wrong one was asked again
    assert [m["role"] for m in actor.calls[0][0]] == ["user", "assistant", "user"]


def test_success_by_turn_is_cumulative_and_can_be_read_per_family():
    records = [{"family": "math", "solved_turn": 1}, {"family": "math", "solved_turn": 3},
               {"family": "code", "solved_turn": None}, {"family": "code", "solved_turn": 2}]
    assert success_by_turn(records, max_turns=4) == [0.25, 0.5, 0.75, 0.75]
    assert success_by_turn(records, max_turns=2, family="code") == [0.0, 0.5]
    assert success_by_turn([], max_turns=2) == [0.0, 0.0]
    table = success_table({"sft": records}, max_turns=3)
    assert table.splitlines()[2] == "| sft (n=4) | 25.0 | 50.0 | 75.0 |"


@pytest.mark.slow
def test_the_tiny_policys_first_turn_is_its_greedy_held_out_answer(tiny_policy):
    from eurus_lib.eval.heldout import accuracy_table, answer_tasks
    from eurus_lib.eval.multiturn import greedy_actor

    model, tok = tiny_policy
    tasks = [math_task(0), math_task(1)]
    responses = answer_tasks(model, tok, tasks, max_new_tokens=16, batch_size=2, progress=False)
    table = accuracy_table(judge(tasks, responses, Environment(fake_executor)))
    assert table["all"]["n"] == 2 and table["math"]["n"] == 2
    actor = greedy_actor(model, tok, max_new_tokens=16, batch_size=2)
    records = interact(actor, tasks, Environment(fake_executor), max_turns=2, progress=False)
    assert [r["turns"][0]["response"] for r in records] == [r.strip() for r in responses]
    assert all(len(r["turns"]) == (1 if r["solved_turn"] == 1 else 2) for r in records)


class RoutedActor:
    """A scripted model holding several policies as adapters: each conversation answered by its adapter's rule."""

    def __init__(self, rules):
        self.rules, self.calls = rules, []

    def sample(self, conversations, seed=None, adapter_names=None):
        self.calls.append(list(adapter_names))
        return [self.rules[a](c) for c, a in zip(conversations, adapter_names, strict=True)]


def test_policies_interacting_together_get_the_records_each_would_get_alone():
    from eurus_lib.eval.multiturn import interact_policies

    tasks = [math_task(0), math_task(1)]
    rules = {"__base__": learner, "dpo": lambda conv: WRONG, "kto": lambda conv: RIGHT}
    actor = RoutedActor(rules)
    together = interact_policies(actor, {"sft": "__base__", "dpo": "dpo", "kto": "kto"}, tasks,
                                 Environment(fake_executor), max_turns=3, progress=False,
                                 first_answers={"sft": [WRONG, RIGHT], "kto": None})
    alone = {"sft": interact(ScriptedActor("sft", learner), tasks, Environment(fake_executor), max_turns=3,
                             progress=False, first_answers=[WRONG, RIGHT]),
             "dpo": interact(ScriptedActor("dpo", rules["dpo"]), tasks, Environment(fake_executor), max_turns=3,
                             progress=False),
             "kto": interact(ScriptedActor("kto", rules["kto"]), tasks, Environment(fake_executor), max_turns=3,
                             progress=False)}
    assert together == alone
    assert [r["solved_turn"] for r in together["sft"]] == [2, 1]
    # turn 1: only the policies without given answers are asked, all in one call; then one call per turn
    assert actor.calls == [["dpo", "dpo", "kto", "kto"], ["__base__", "dpo", "dpo"], ["dpo", "dpo"]]
