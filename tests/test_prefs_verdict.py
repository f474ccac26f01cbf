"""The verdict is computed from the step logs and held-out records: hand-made logs give known answers."""

import pytest

from eurus_lib.eval.heldout import compare_policies
from eurus_lib.prefs.paper import table3_family, table3_rows
from eurus_lib.prefs.verdict import (
    accuracy_verdict,
    reward_dynamics,
    reward_verdict,
    separated_pairs,
    tail_stats,
    verdict_markdown,
)


def log(chosen_values):
    return [{"step": k + 1, "progress": (k + 1) / len(chosen_values), "rewards/chosen": v, "rewards/rejected": v - 1,
             "rewards/margins": 1.0, "rewards/accuracies": 1.0, "loss": 0.5} for k, v in enumerate(chosen_values)]


FALLING = [0.0] + [-0.1 * k for k in range(1, 20)]
RISING = [0.0] + [0.05 * k for k in range(1, 20)]


def test_final_value_is_the_mean_of_the_last_tenth_of_steps():
    stats = tail_stats(log(FALLING), "rewards/chosen")
    assert stats["steps"] == 2 and stats["mean"] == pytest.approx(-1.85) and stats["se"] == pytest.approx(0.05)
    assert tail_stats(log([0.3]), "rewards/chosen") == {"mean": 0.3, "se": 0.0, "steps": 1}
    assert tail_stats([{"loss": 1.0}], "rewards/chosen") is None


def test_dpo_chosen_falling_while_kto_and_nca_rise_is_the_papers_effect():
    verdict = reward_verdict(reward_dynamics({"dpo": log(FALLING), "kto": log(RISING), "nca": log(RISING)}))
    assert verdict == {"status": "shown", "matches": {"dpo": True, "kto": True, "nca": True},
                       "clear": {"dpo": True, "kto": True, "nca": True}}


def test_all_chosen_rewards_falling_shows_the_effect_for_dpo_only():
    verdict = reward_verdict(reward_dynamics({"dpo": log(FALLING), "kto": log(FALLING), "nca": log(FALLING)}))
    assert verdict["status"] == "partly shown" and verdict["matches"] == {"dpo": True, "kto": False, "nca": False}


def test_dpo_rising_with_kto_falling_is_not_the_effect():
    verdict = reward_verdict(reward_dynamics({"dpo": log(RISING), "kto": log(FALLING), "nca": log(FALLING)}))
    assert verdict["status"] == "not shown"


def test_a_missing_algorithm_leaves_the_verdict_incomplete():
    assert reward_verdict(reward_dynamics({"dpo": log(FALLING)}))["status"] == "incomplete"


def test_a_final_value_within_two_standard_errors_of_zero_is_flagged_as_noise():
    noisy = [0.0] * 10 + [0.5, -0.4] * 5  # tail: 0.5, -0.4 -> mean 0.05, se 0.45
    verdict = reward_verdict(reward_dynamics({"dpo": log(FALLING), "kto": log(noisy), "nca": log(RISING)}))
    assert verdict["matches"]["kto"] and not verdict["clear"]["kto"]
    md = verdict_markdown(reward_dynamics({"dpo": log(FALLING), "kto": log(noisy), "nca": log(RISING)}), verdict, None)
    assert "KTO: +0.050 ± 0.450 over 2 steps; paper +0.40" in md and "may be batch noise" in md


def records(correct_by_family):
    return [{"id": f"{fam}{k}", "family": fam, "correct": k < n_right}
            for fam, (n_right, n) in correct_by_family.items() for k in range(n)]


def test_accuracy_order_follows_when_kto_and_nca_beat_sft_which_beats_dpo():
    comparison = compare_policies({"sft": records({"math": (5, 20)}), "dpo": records({"math": (3, 20)}),
                                   "kto": records({"math": (8, 20)}), "nca": records({"math": (6, 20)})})
    verdict = accuracy_verdict(comparison)
    assert verdict["order_follows"] and verdict["holds"] == {"kto > sft": True, "nca > sft": True, "sft > dpo": True}
    assert verdict["beyond_intervals"] == []


def test_ties_do_not_follow_the_order_and_separated_intervals_are_named():
    comparison = compare_policies({"sft": records({"math": (0, 30)}), "dpo": records({"math": (0, 30)}),
                                   "kto": records({"math": (20, 30)}), "nca": records({"math": (0, 30)})})
    verdict = accuracy_verdict(comparison)
    assert not verdict["order_follows"] and verdict["holds"]["kto > sft"] and not verdict["holds"]["sft > dpo"]
    assert separated_pairs(comparison) == ["kto > sft in math", "kto > dpo in math", "kto > nca in math",
                                           "kto > sft in all", "kto > dpo in all", "kto > nca in all"]


def test_paper_rows_average_the_mapped_table3_columns():
    assert table3_family("sft") == {"math": 54.2, "code": 44.9, "all": 46.5}
    assert table3_family("dpo") == {"math": 52.5, "code": 37.0, "all": 44.5}
    assert table3_rows()["paper 7B KTO"]["all"] == 48.8 and table3_rows()["paper 7B NCA"]["math"] == 56.0
