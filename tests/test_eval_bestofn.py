"""Best-of-N selectors and the pass@1-vs-N curve, on hand-built samples with hand-worked picks."""

import random

import pytest

from eurus_lib.errors import KitError
from eurus_lib.eval.bestofn import (
    best_of_n_curve,
    normalise_code,
    pick_by_reward,
    pick_random,
    pick_self_consistency,
    pick_top_logprob,
    standard_selectors,
    vote_key,
)


def math(predicted, logprobs, correct, rewards):
    return [{"family": "math", "response": "...", "predicted": p, "logprob": lp, "correct": ok, "rewards": {"rm": r}}
            for p, lp, ok, r in zip(predicted, logprobs, correct, rewards)]


def code(bodies, logprobs, correct, rewards):
    return [{"family": "code", "response": f"Step 1: write it.\n```python\n{b}\n```", "predicted": None,
             "logprob": lp, "correct": ok, "rewards": {"rm": r}} for b, lp, ok, r in zip(bodies, logprobs, correct, rewards)]


# Problem A: "7" three ways (right), "12" once (wrong, but the most likely and the RM's favourite).
A = math(["7", "12", "7.0", "$7"], [-1.0, -0.2, -0.5, -0.9], [True, False, True, True], [0.1, 0.9, 0.3, -1.0])
# Problem B: two spellings of 2 * x (right), x + x (right), x * 3 (wrong, most likely, RM's favourite).
B = code(["def double(x):\n    return x + x", "def double(x):\n    return 2*x  # twice",
          "def double(x):\n    return x * 3", "# doubled\ndef double(x):\n\n    return 2 * x"],
         [-0.3, -0.6, -0.1, -0.8], [True, True, False, True], [0.0, 0.2, 0.5, 0.1])
# Problem C: only the last sample is right; the majority answer "3" is wrong; the RM finds the right one.
C = math(["3", "3", "4", "7"], [-0.1, -0.2, -0.3, -0.4], [False, False, False, True], [0.0, 0.0, 0.0, 1.0])


def test_top_logprob_and_reward_pick_their_maximum():
    assert pick_top_logprob(A) == 1 and pick_top_logprob(B) == 2
    assert pick_by_reward("rm")(A) == 1 and pick_by_reward("rm")(C) == 3


def test_self_consistency_votes_on_the_value_of_the_answer():
    assert {vote_key(s) for s in A} == {"7", "12"}
    assert pick_self_consistency(A) == 2  # "7" has 3 votes; its most likely sample is index 2
    assert pick_self_consistency(C) == 0  # "3" wins 2 to 1 to 1


def test_self_consistency_on_code_votes_on_the_program_without_comments_or_formatting():
    assert vote_key(B[1]) == vote_key(B[3]) == "def double(x):\n    return 2 * x"
    assert vote_key(B[0]) != vote_key(B[1])
    assert pick_self_consistency(B) == 1


def test_self_consistency_breaks_ties_by_log_probability_so_two_samples_match_top_logprob():
    for problem in (A, B, C):
        assert pick_self_consistency(problem[:2]) == pick_top_logprob(problem[:2])


def test_samples_without_an_answer_do_not_vote():
    silent = math([None, "", "5"], [-0.1, -0.2, -0.9], [False, False, True], [0, 0, 0])
    assert pick_self_consistency(silent) == 2
    assert pick_self_consistency(silent[:2]) == 0  # nobody voted: top log-probability


def test_unparsable_code_is_normalised_by_dropping_comments_and_blank_lines():
    assert normalise_code("def f(:\n\n    return 1  # one\n") == "def f(:\n    return 1"


def test_curve_uses_the_first_n_samples_and_reports_the_oracle_ceiling():
    samples = [A, B, C]
    correct = [[s["correct"] for s in group] for group in samples]
    selectors = {"top": pick_top_logprob, "sc": pick_self_consistency, "rm": pick_by_reward("rm")}
    curve = best_of_n_curve(samples, correct, Ns=(1, 2, 4), selectors=selectors)
    assert curve["N"] == [1, 2, 4] and curve["problems"] == 3
    assert curve["pass@1"]["top"] == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert curve["pass@1"]["sc"] == pytest.approx([2 / 3, 1 / 3, 2 / 3])
    assert curve["pass@1"]["rm"] == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    assert curve["oracle"] == pytest.approx([2 / 3, 2 / 3, 1.0])


def test_random_pick_is_repeatable_with_a_seed_and_unbiased_over_many_problems():
    rng = random.Random(0)
    samples = [[{"logprob": 0.0} for _ in range(4)] for _ in range(2000)]
    correct = [[rng.random() < 0.3 for _ in range(4)] for _ in samples]
    first = best_of_n_curve(samples, correct, Ns=(1, 4), selectors={"random": pick_random}, seed=3)
    again = best_of_n_curve(samples, correct, Ns=(1, 4), selectors={"random": pick_random}, seed=3)
    other = best_of_n_curve(samples, correct, Ns=(1, 4), selectors={"random": pick_random}, seed=4)
    assert first == again and first != other
    mean_correct = sum(map(sum, correct)) / (4 * len(correct))
    assert first["pass@1"]["random"][0] == sum(c[0] for c in correct) / len(correct)  # N=1: the first sample
    assert first["pass@1"]["random"][1] == pytest.approx(mean_correct, abs=0.03)


def test_standard_selectors_are_table_9s_rows():
    assert list(standard_selectors(["bt+dr", "bt"])) == ["random", "top logprob", "self-consistency",
                                                         "RM bt+dr", "RM bt"]


def test_too_few_samples_for_the_largest_n_is_a_clear_error():
    with pytest.raises(KitError, match="N up to 8"):
        best_of_n_curve([A], [[True] * 4], Ns=(1, 8))
