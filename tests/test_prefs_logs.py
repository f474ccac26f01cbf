"""All three algorithms log the same reward keys, whatever names TRL gave them."""

import math

import pytest
import torch

from eurus_lib.prefs.trainers import REWARD_KEYS, pairwise_accuracy, standard_keys


def test_dpo_logs_already_carry_the_standard_keys():
    logs = {"loss": 0.69, "rewards/chosen": -0.1, "rewards/rejected": -0.3, "rewards/margins": 0.2,
            "rewards/accuracies": 0.75, "logps/chosen": -40.0}
    assert standard_keys(logs) == {k: logs[k] for k in REWARD_KEYS}


def test_old_kto_sums_and_counts_become_means_and_a_margin():
    logs = {"loss": 0.5, "rewards/chosen_sum": 0.9, "count/chosen": 3, "rewards/rejected_sum": -2.0,
            "count/rejected": 4, "kl": 0.01}
    assert standard_keys(logs) == {"rewards/chosen": 0.3, "rewards/rejected": -0.5, "rewards/margins": 0.8,
                                   "loss": 0.5}


def test_a_batch_with_no_rejected_row_gets_no_rejected_reward_or_margin():
    assert standard_keys({"rewards/chosen_sum": 1.0, "count/chosen": 2, "count/rejected": 0}) == {
        "rewards/chosen": 0.5}


def test_kto_accuracy_compares_each_desirable_row_with_its_own_pairs_undesirable_row():
    rewards = torch.tensor([0.3, -0.1, 0.2, 0.1, -0.2, 0.5])  # pairs (0.3, 0.1), (-0.1, -0.2), (0.2, 0.5)
    labels = torch.tensor([True, True, True, False, False, False])
    assert pairwise_accuracy(rewards, labels) == pytest.approx(2 / 3)


def test_kto_accuracy_is_undefined_for_a_batch_that_is_not_whole_pairs():
    assert math.isnan(pairwise_accuracy(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([True, True, False])))
