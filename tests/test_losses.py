"""eurus_lib.losses: hand-worked values, agreement with TRL 1.16's own loss code, and the properties
the Eurus paper's argument rests on (§3 and §6.1)."""

import doctest
import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

import eurus_lib.losses as losses_module
from eurus_lib.errors import ConfigError
from eurus_lib.losses import (
    bt_loss,
    dpo_loss,
    dr_loss,
    kto_loss,
    kto_reference_point,
    nca_loss,
    reward_model_loss,
)


def neg_log_sigmoid(x):
    """−log σ(x) = log(1 + e^−x), written out so expected values do not come from the code under test."""
    return math.log(1 + math.exp(-x))


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


# Two pairs, β = 0.1. Pair 0: chosen −10 vs ref −12 (r_c = 0.2), rejected −15 vs ref −11 (r_r = −0.4).
# Pair 1: chosen −20 vs ref −19 (r_c = −0.1), rejected −30 vs ref −31 (r_r = 0.1): ranked the wrong way.
PAIRS = dict(policy_chosen_logps=t(-10, -20), policy_rejected_logps=t(-15, -30),
             ref_chosen_logps=t(-12, -19), ref_rejected_logps=t(-11, -31))


# --- values worked out by hand ---------------------------------------------------------------------

def test_dpo_loss_is_the_mean_negative_log_sigmoid_of_the_reward_margin():
    loss, chosen, rejected = dpo_loss(**PAIRS, beta=0.1)
    expected = (neg_log_sigmoid(0.2 - (-0.4)) + neg_log_sigmoid(-0.1 - 0.1)) / 2
    assert loss.item() == pytest.approx(expected)
    torch.testing.assert_close(chosen, t(0.2, -0.1))
    torch.testing.assert_close(rejected, t(-0.4, 0.1))


def test_nca_loss_scores_each_reward_against_zero():
    loss, chosen, rejected = nca_loss(**PAIRS, beta=0.1)
    row0 = neg_log_sigmoid(0.2) + 0.5 * neg_log_sigmoid(-0.2) + 0.5 * neg_log_sigmoid(0.4)
    row1 = neg_log_sigmoid(-0.1) + 0.5 * neg_log_sigmoid(0.1) + 0.5 * neg_log_sigmoid(-0.1)
    assert loss.item() == pytest.approx((row0 + row1) / 2)
    torch.testing.assert_close(chosen, t(0.2, -0.1))
    torch.testing.assert_close(rejected, t(-0.4, 0.1))


def test_kto_reference_point_is_the_mean_log_ratio_of_mismatched_completions():
    # log-ratios 1 and 3 -> z0 = 2
    assert kto_reference_point(t(-5, -7), t(-6, -10)).item() == pytest.approx(2.0)


def test_kto_reference_point_is_clamped_at_zero():
    assert kto_reference_point(t(-8, -9), t(-6, -9)).item() == 0.0


def test_kto_loss_averages_weighted_terms_over_desirable_and_undesirable_examples_together():
    # One desirable example (ρ = 4), two undesirable ones (ρ = −2 and 1), z0 = 2, β = 0.1, λ_D = 1.33.
    loss, chosen, rejected = kto_loss(t(-10), t(-20, -9), t(-14), t(-18, -10), beta=0.1,
                                      reference_point=2.0, desirable_weight=1.33, undesirable_weight=1.0)
    desirable = 1.33 * (1 - sigmoid(0.1 * (4 - 2)))
    undesirable = (1 - sigmoid(0.1 * (2 - (-2)))) + (1 - sigmoid(0.1 * (2 - 1)))
    assert loss.item() == pytest.approx((desirable + undesirable) / 3)  # divided by 3 examples, not by the weights
    torch.testing.assert_close(chosen, t(0.4))
    torch.testing.assert_close(rejected, t(-0.2, 0.1))


def test_kto_loss_accepts_a_batch_with_no_undesirable_examples():
    loss, _, rejected = kto_loss(t(-10), t(), t(-14), t(), beta=0.1, reference_point=0.0)
    assert loss.item() == pytest.approx(1.33 * (1 - sigmoid(0.4)))
    assert rejected.numel() == 0


def test_kto_loss_with_no_examples_at_all_says_so():
    with pytest.raises(ValueError, match="no examples"):
        kto_loss(t(), t(), t(), t(), beta=0.1, reference_point=0.0)


# Reward-model outputs for two pairs: pair 0 ranked right (1.0 > 0.0), pair 1 wrong (−0.5 < 0.5).
RM_CHOSEN, RM_REJECTED = t(1.0, -0.5), t(0.0, 0.5)
BT_ROWS = (neg_log_sigmoid(1.0), neg_log_sigmoid(-1.0))
DR_ROWS = (neg_log_sigmoid(1.0) + neg_log_sigmoid(0.0), neg_log_sigmoid(-0.5) + neg_log_sigmoid(-0.5))


def test_bt_loss_is_the_mean_negative_log_sigmoid_of_the_reward_difference():
    assert bt_loss(RM_CHOSEN, RM_REJECTED).item() == pytest.approx(sum(BT_ROWS) / 2)


def test_dr_loss_pushes_chosen_rewards_above_zero_and_rejected_below():
    assert dr_loss(RM_CHOSEN, RM_REJECTED).item() == pytest.approx(sum(DR_ROWS) / 2)


@pytest.mark.parametrize("objective, expected", [
    ("bt+dr", (BT_ROWS[0] + DR_ROWS[0] + BT_ROWS[1]) / 2),
    ("dr", (DR_ROWS[0] + BT_ROWS[1]) / 2),
    ("bt", (BT_ROWS[0] + BT_ROWS[1]) / 2),
])
def test_reward_model_loss_gives_rows_outside_the_mask_bradley_terry_alone(objective, expected):
    mask = torch.tensor([True, False])  # row 0 an UltraInteract pair, row 1 an UltraFeedback pair
    assert reward_model_loss(RM_CHOSEN, RM_REJECTED, objective, dr_rows=mask).item() == pytest.approx(expected)


def test_reward_model_loss_without_a_mask_applies_the_objective_to_every_row():
    bt, dr = bt_loss(RM_CHOSEN, RM_REJECTED), dr_loss(RM_CHOSEN, RM_REJECTED)
    torch.testing.assert_close(reward_model_loss(RM_CHOSEN, RM_REJECTED, "bt+dr"), bt + dr)
    torch.testing.assert_close(reward_model_loss(RM_CHOSEN, RM_REJECTED, "dr"), dr)
    torch.testing.assert_close(reward_model_loss(RM_CHOSEN, RM_REJECTED, "bt"), bt)


def test_reward_model_loss_rejects_an_unknown_objective_and_names_the_choices():
    with pytest.raises(ConfigError, match="bt, dr, bt\\+dr"):
        reward_model_loss(RM_CHOSEN, RM_REJECTED, "dpo")


def test_reward_model_loss_rejects_a_mask_of_the_wrong_length():
    with pytest.raises(ValueError, match="dr_rows has shape"):
        reward_model_loss(RM_CHOSEN, RM_REJECTED, dr_rows=torch.tensor([True, False, True]))


def test_module_docstring_example_prints_what_it_shows():
    assert doctest.testmod(losses_module).failed == 0


# --- properties behind the paper's argument -------------------------------------------------------

def test_a_shared_drop_in_both_rewards_leaves_dpo_unchanged_but_raises_nca_and_dr():
    """§6.1: DPO cannot stop the chosen reward from falling, as long as the rejected one falls with it."""
    before = dict(policy_chosen_logps=t(-10.0), policy_rejected_logps=t(-15.0),
                  ref_chosen_logps=t(-10.0), ref_rejected_logps=t(-10.0))  # r_c = 0, r_r = −0.5
    after = {**before, "policy_chosen_logps": t(-20.0), "policy_rejected_logps": t(-25.0)}  # both −1 lower
    dpo_before, c_before, r_before = dpo_loss(**before, beta=0.1)
    dpo_after, c_after, r_after = dpo_loss(**after, beta=0.1)
    assert dpo_after.item() == pytest.approx(dpo_before.item())
    assert nca_loss(**after, beta=0.1)[0] > nca_loss(**before, beta=0.1)[0]
    assert dr_loss(c_after, r_after) > dr_loss(c_before, r_before)


def test_bradley_terry_ignores_a_shared_shift_of_rewards_but_bt_plus_dr_does_not():
    shifted = (RM_CHOSEN - 3.0, RM_REJECTED - 3.0)
    torch.testing.assert_close(bt_loss(*shifted), bt_loss(RM_CHOSEN, RM_REJECTED))
    assert reward_model_loss(*shifted, "bt+dr") > reward_model_loss(RM_CHOSEN, RM_REJECTED, "bt+dr") + 1.0


def test_the_mask_switches_the_dr_term_off_for_the_rows_it_leaves_out():
    mask = torch.tensor([True, False])
    base = reward_model_loss(RM_CHOSEN, RM_REJECTED, "bt+dr", dr_rows=mask)
    row1_shifted = reward_model_loss(RM_CHOSEN - t(0, 3), RM_REJECTED - t(0, 3), "bt+dr", dr_rows=mask)
    row0_shifted = reward_model_loss(RM_CHOSEN - t(3, 0), RM_REJECTED - t(3, 0), "bt+dr", dr_rows=mask)
    torch.testing.assert_close(row1_shifted, base)  # row 1 is scored on its difference only
    assert row0_shifted > base


# --- gradients ------------------------------------------------------------------------------------

def _leaves(**tensors):
    return {name: value.clone().requires_grad_(True) for name, value in tensors.items()}


@pytest.mark.parametrize("loss_fn", [dpo_loss, nca_loss])
def test_pairwise_gradients_reach_the_policy_and_not_the_reference(loss_fn):
    x = _leaves(**PAIRS)
    loss, chosen, rejected = loss_fn(**x, beta=0.1)
    loss.backward()
    assert x["policy_chosen_logps"].grad.abs().min() > 0
    assert x["policy_rejected_logps"].grad.abs().min() > 0
    assert x["ref_chosen_logps"].grad is None and x["ref_rejected_logps"].grad is None
    assert not chosen.requires_grad and not rejected.requires_grad


def test_dpo_pushes_the_chosen_up_exactly_as_hard_as_the_rejected_down():
    x = _leaves(**PAIRS)
    dpo_loss(**x, beta=0.1)[0].backward()
    torch.testing.assert_close(x["policy_chosen_logps"].grad, -x["policy_rejected_logps"].grad)


def test_kto_gradients_reach_the_policy_and_not_the_reference_nor_the_reference_point():
    x = _leaves(pc=t(-10, -11), pr=t(-20), rc=t(-14, -12), rr=t(-18), kl_policy=t(-5, -7), kl_ref=t(-6, -10))
    z0 = kto_reference_point(x["kl_policy"], x["kl_ref"])
    loss, chosen, rejected = kto_loss(x["pc"], x["pr"], x["rc"], x["rr"], beta=0.1, reference_point=z0)
    loss.backward()
    assert x["pc"].grad.abs().min() > 0 and x["pr"].grad.abs().min() > 0
    assert all(x[name].grad is None for name in ("rc", "rr", "kl_policy", "kl_ref"))
    assert not chosen.requires_grad and not rejected.requires_grad


# --- agreement with TRL's own code ----------------------------------------------------------------
# TRL 1.16 computes these losses inside DPOTrainer._compute_loss / KTOTrainer._compute_loss /
# RewardTrainer.compute_loss; there is no standalone loss function. We run those methods on a trainer
# made with object.__new__ (no __init__, no model download) carrying only the attributes they read,
# and a stub model: a batch row whose first token is k has a one-token completion of log-prob
# table[k]. Reference log-probs come "precomputed" in the batch, as with precompute_ref_log_probs.


class _OneProcess:
    """The slice of accelerate.Accelerator the loss code touches, for a single process."""

    device = torch.device("cpu")

    def gather(self, tensor):
        return tensor

    gather_for_metrics = gather


class _TableLM(torch.nn.Module):
    """Stands in for a causal LM under TRL's fused LM head (outputs.log_probs: (B, T − 1))."""

    def __init__(self, table):
        super().__init__()
        self.table = table

    def forward(self, input_ids, labels=None, **kwargs):
        log_probs = self.table[input_ids[:, 0]].unsqueeze(1)
        zeros = torch.zeros_like(log_probs.detach())
        return SimpleNamespace(log_probs=log_probs, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool(),
                               logits=log_probs)


def _batch(first_ids, prefix=""):
    """Two-token rows: token 0 names the row's table entry (the prompt), token 1 is the completion."""
    ids = torch.stack([first_ids, torch.zeros_like(first_ids)], dim=1)
    return {f"{prefix}input_ids": ids, f"{prefix}attention_mask": torch.ones_like(ids),
            f"{prefix}completion_mask": torch.tensor([[0, 1]]).expand_as(ids).clone()}


def _bare_trainer(cls, model, **attributes):
    trainer = object.__new__(cls)
    trainer.__dict__.update(model=model, accelerator=_OneProcess(), aux_loss_enabled=False, _tp_size=1,
                            _total_train_tokens=0, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
                            **attributes)
    return trainer


def _random_pairs(seed, n=6):
    g = torch.Generator().manual_seed(seed)
    policy = -20 + 8 * torch.rand(2 * n, generator=g, dtype=torch.float64)  # rows: n chosen, then n rejected
    ref = policy + 6 * torch.randn(2 * n, generator=g, dtype=torch.float64)  # β·ρ spreads over about ±1
    return policy, ref


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("trl_loss_type, ours", [("sigmoid", dpo_loss), ("nca_pair", nca_loss)])
def test_dpo_and_nca_match_trl_dpo_trainer(trl_loss_type, ours, seed):
    from trl import DPOTrainer

    policy, ref = _random_pairs(seed)
    n = len(policy) // 2
    trl_table = policy.clone().requires_grad_(True)
    trainer = _bare_trainer(DPOTrainer, _TableLM(trl_table), beta=0.1, loss_types=[trl_loss_type],
                            loss_weights=[1.0], f_divergence_type="reverse_kl", ld_alpha=None,
                            precompute_ref_logps=True, use_weighting=False)
    batch = {**_batch(torch.arange(2 * n)), "ref_chosen_logps": ref[:n], "ref_rejected_logps": ref[n:]}
    trl_loss = trainer.compute_loss(trainer.model, batch)
    trl_loss.backward()

    our_table = policy.clone().requires_grad_(True)
    loss, chosen, rejected = ours(our_table[:n], our_table[n:], ref[:n], ref[n:], beta=0.1)
    loss.backward()
    torch.testing.assert_close(loss, trl_loss)
    torch.testing.assert_close(our_table.grad, trl_table.grad)
    logged = trainer._metrics["train"]
    assert chosen.mean().item() == pytest.approx(logged["rewards/chosen"][-1])
    assert rejected.mean().item() == pytest.approx(logged["rewards/rejected"][-1])


@pytest.mark.parametrize("seed, labels, kl", [
    (0, [1, 0, 1, 1, 0], 3.0),
    (1, [0, 0, 1, 0, 0, 0], -2.0),  # the KL estimate comes out negative: z0 is clamped to 0
    (2, [1, 1, 1, 1], 5.0),  # no undesirable examples in the batch
])
def test_kto_matches_trl_kto_trainer_with_unequal_desirable_and_undesirable_counts(seed, labels, kl):
    from trl import KTOTrainer

    n = len(labels)
    g = torch.Generator().manual_seed(seed)
    policy = -20 + 8 * torch.rand(2 * n, generator=g, dtype=torch.float64)  # n completions, then n KL ones
    noise = torch.randn(2 * n, generator=g, dtype=torch.float64)
    ref = policy - torch.cat([6 * noise[:n], kl + noise[n:]])  # β·ρ about ±0.6; KL log-ratios about `kl`
    trl_table = policy.clone().requires_grad_(True)
    trainer = _bare_trainer(KTOTrainer, _TableLM(trl_table), beta=0.1, loss_type="kto", calculate_KL=True,
                            desirable_weight=1.33, undesirable_weight=1.0, precompute_ref_logps=True)
    batch = {**_batch(torch.arange(n)), **_batch(torch.arange(n, 2 * n), prefix="KL_"),
             "label": torch.tensor(labels), "ref_logps": ref[:n], "ref_KL_logps": ref[n:]}
    trl_loss = trainer.compute_loss(trainer.model, batch)
    trl_loss.backward()

    our_table = policy.clone().requires_grad_(True)
    d = torch.tensor(labels, dtype=torch.bool)
    completions, completions_ref = our_table[:n], ref[:n]
    z0 = kto_reference_point(our_table[n:], ref[n:])
    loss, chosen, rejected = kto_loss(completions[d], completions[~d], completions_ref[d], completions_ref[~d],
                                      beta=0.1, reference_point=z0, desirable_weight=1.33, undesirable_weight=1.0)
    loss.backward()
    torch.testing.assert_close(loss, trl_loss)
    torch.testing.assert_close(our_table.grad, trl_table.grad)
    logged = trainer._metrics["train"]
    assert z0.item() == pytest.approx(logged["kl"][-1])
    assert (z0.item() == 0.0) == (kl < 0)
    assert chosen.mean().item() == pytest.approx(logged["rewards/chosen"][-1])
    if (~d).any():
        assert rejected.mean().item() == pytest.approx(logged["rewards/rejected"][-1])


def test_bt_loss_matches_trl_reward_trainer():
    from trl import RewardTrainer

    scores = _random_pairs(3, n=5)[0] / 5  # reward-model outputs: 5 chosen rows, then 5 rejected
    trainer = _bare_trainer(RewardTrainer, _TableLM(scores), args=SimpleNamespace(center_rewards_coefficient=None))
    batch = _batch(torch.arange(len(scores)))
    del batch["completion_mask"]
    trl_loss = trainer.compute_loss(trainer.model, batch)
    torch.testing.assert_close(bt_loss(scores[:5], scores[5:]), trl_loss)
