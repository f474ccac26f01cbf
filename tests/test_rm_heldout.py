"""Held-out reward-model pairs: ground truth against a policy's wrong answer, scored and summarized."""

import pytest

from eurus_lib.eval.heldout import conversation
from eurus_lib.eval.intervals import wilson_interval
from eurus_lib.rm.evaluate import heldout_pairs, summarize
from eurus_lib.tasks.base import Task
from eurus_lib.trees.prompts import ground_truth_action


def _task(i, family="math"):
    label = {"math": "Math_CoT", "code": "Coding", "logic": "Logic"}[family]
    return Task(id=f"t{i}", family=family, task=label, dataset=f"tiny-{family}", prompt=f"Problem {i}: what is {i} + 1?",
                answer=str(i + 1), rationale=f"Step 1: {i} + 1 = {i + 1}.", solution=f"print({i} + 1)")


def _rec(task, correct, response):
    return {"id": task.id, "family": task.family, "correct": correct, "response": response}


def test_pairs_set_the_ground_truth_action_against_sfts_wrong_answer_else_the_base_models():
    t = [_task(i) for i in range(5)]
    sft = [_rec(t[0], False, "It is 7."), _rec(t[1], True, "It is 2."), _rec(t[2], True, "3"),
           _rec(t[3], False, "   ")]
    base = [_rec(t[0], False, "It is 9."), _rec(t[1], False, "It is 4."), _rec(t[2], True, "3"),
            _rec(t[3], True, "It is 4.")]
    pairs, counts = heldout_pairs(t, {"sft": sft, "base": base}, cot_share=0.5, seed=0)
    truth = [p for p in pairs if p["kind"] == "ground_truth"]
    assert [(p["task_id"], p["rejected"], p["rejected_from"]) for p in truth] == [
        ("t0", "It is 7.", "sft"), ("t1", "It is 4.", "base")]  # t2: both right; t3: empty wrong answer; t4: none
    assert truth[0]["chosen"] == ground_truth_action(t[0], "cot") and truth[0]["prompt"] == conversation(t[0])
    assert counts == {"problems": 5, "no_wrong_answer": 3, "policy_pairs": 1}
    [control] = [p for p in pairs if p["kind"] == "policy"]  # t1: SFT right, base wrong, in the policies' words
    assert (control["chosen"], control["rejected"], control["chosen_from"]) == ("It is 2.", "It is 4.", "sft")


def test_the_chosen_action_is_drawn_like_the_trees_draw_it_and_is_reproducible():
    t = Task(id="l1", family="logic", task="Logic", dataset="tiny-logic", prompt="Is 3 odd?", answer="True",
             rationale="Step 1: 3 % 2 == 1.", solution="print(3 % 2 == 1)")
    wrong = {"sft": [_rec(t, False, "False")]}
    first, _ = heldout_pairs([t], wrong, cot_share=0.5, seed=0)
    again, _ = heldout_pairs([t], wrong, cot_share=0.5, seed=0)
    assert first == again
    assert first[0]["chosen"] in {ground_truth_action(t, "cot"), ground_truth_action(t, "modular")}
    assert heldout_pairs([t], wrong, cot_share=1.0, seed=0)[0][0]["chosen"] == ground_truth_action(t, "cot")


def test_summary_counts_accuracy_with_wilson_intervals_and_reward_signs():
    scored = [{"family": "math", "kind": "ground_truth", "chosen_reward": 1.0, "rejected_reward": -1.0},
              {"family": "math", "kind": "ground_truth", "chosen_reward": 0.5, "rejected_reward": 2.0},
              {"family": "code", "kind": "ground_truth", "chosen_reward": -0.5, "rejected_reward": -1.5},
              {"family": "code", "kind": "ground_truth", "chosen_reward": 0.2, "rejected_reward": 0.2},
              {"family": "code", "kind": "policy", "chosen_reward": 9.0, "rejected_reward": -9.0}]
    s = summarize(scored)
    assert list(s) == ["code", "math", "all"]
    assert (s["all"]["n"], s["all"]["correct"], s["all"]["accuracy"]) == (4, 2, 0.5)  # a tie is not a win
    assert (s["all"]["low"], s["all"]["high"]) == pytest.approx(wilson_interval(2, 4))
    assert (s["math"]["correct"], s["code"]["correct"]) == (1, 1)
    assert s["all"]["chosen_positive"] == 0.75 and s["all"]["rejected_negative"] == 0.5
    assert s["all"]["both_signs"] == 0.25  # only 1.0 > 0 > -1.0
    assert s["all"]["mean_chosen"] == pytest.approx(0.3) and s["all"]["mean_rejected"] == pytest.approx(-0.075)
    assert summarize(scored, kind="policy")["all"]["n"] == 1
