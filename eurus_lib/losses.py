"""The losses of the Eurus paper (arXiv 2404.02078) as small pure functions on tensors.

    >>> import torch; from eurus_lib.losses import dpo_loss
    >>> dpo_loss(torch.tensor([-10.]), torch.tensor([-15.]), torch.tensor([-12.]), torch.tensor([-11.]), beta=0.1)
    (tensor(0.4375), tensor([0.2000]), tensor([-0.4000]))

Five losses side by side. For a policy, ρ = log π(y|x) − log π_ref(y|x) summed over the completion's
tokens and the implicit reward is r = β·ρ; for a reward model, r is its scalar head's output.

    DPO  −log σ(r_c − r_r)                                Rafailov et al. 2023, arXiv 2305.18290, Eq. 7
    NCA  −log σ(r_c) − ½ log σ(−r_c) − ½ log σ(−r_r)      Chen et al. 2024, arXiv 2402.05369, §4 (pairwise)
    KTO  λ_D (1 − σ(β(ρ_c − z0))),  λ_U (1 − σ(β(z0 − ρ_u)))  Ethayarajh et al. 2024, arXiv 2402.01306, Eq. 7
    BT   −log σ(r_c − r_r)                                Bradley-Terry reward model; Eurus §3, L_BT
    DR   −log σ(r_c) − log σ(−r_r)                        Eurus §3, L_DR; L_UltraInteract = L_BT + L_DR

Why Eurus cares (§6.1, Figure 5): DPO and BT see only the difference r_c − r_r, so lowering both
rewards together costs nothing, and under DPO the chosen reward falls during training (final −1.26)
while under KTO (+0.4) and NCA (+0.16), which also score r_c on its own, it rises. On reasoning,
where few answers are correct, the absolute reward of a correct answer matters; the DR term gives
correct answers positive rewards and wrong ones negative rewards.

dpo_loss, nca_loss and kto_loss follow TRL 1.16's DPOTrainer (loss_type "sigmoid" / "nca_pair") and
KTOTrainer (loss_type "kto") term for term, and bt_loss is RewardTrainer's loss without a margin;
tests/test_losses.py runs TRL's own code on the same tensors. Training goes through those trainers,
and these functions are what the notebooks teach, so the two must agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from eurus_lib.errors import ConfigError

RM_OBJECTIVES = ("bt", "dr", "bt+dr")


def dpo_loss(policy_chosen_logps: Tensor, policy_rejected_logps: Tensor, ref_chosen_logps: Tensor,
             ref_rejected_logps: Tensor, beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """DPO (Rafailov et al. 2023, arXiv 2305.18290, Eq. 7): mean of −log σ(r_c − r_r).

    All four inputs: (B,) log-probs of a whole completion (summed over its tokens), chosen and
    rejected of pair i in row i. r = β·(log π − log π_ref).
    Returns (loss: scalar batch mean, chosen_rewards: (B,), rejected_rewards: (B,)); the rewards
    are detached, and their batch means are what TRL logs as rewards/chosen and rewards/rejected.
    """
    # π_ref is frozen: no gradient reaches the reference log-probs, however they were computed
    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps.detach())
    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps.detach())
    losses = -F.logsigmoid(chosen_rewards - rejected_rewards)
    return losses.mean(), chosen_rewards.detach(), rejected_rewards.detach()


def nca_loss(policy_chosen_logps: Tensor, policy_rejected_logps: Tensor, ref_chosen_logps: Tensor,
             ref_rejected_logps: Tensor, beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """NCA for preference pairs (Chen et al. 2024, arXiv 2402.05369, §4), TRL's loss_type="nca_pair".

    Mean of −log σ(r_c) − ½ log σ(−r_c) − ½ log σ(−r_r): each reward is pushed against 0, not only
    against the other, so the chosen reward cannot fall for free as it can under DPO. The NCA
    authors' code (github.com/thu-ml/Noise-Contrastive-Alignment, preference_trainer.py) has this same
    line, and a "biasedNCA" variant −log σ(r_c) − log σ(−r_r), which is Eurus's L_DR below.
    Inputs, shapes and returns as `dpo_loss`.
    """
    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps.detach())
    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps.detach())
    losses = (-F.logsigmoid(chosen_rewards)
              - 0.5 * F.logsigmoid(-chosen_rewards)
              - 0.5 * F.logsigmoid(-rejected_rewards))
    return losses.mean(), chosen_rewards.detach(), rejected_rewards.detach()


def kto_reference_point(policy_kl_logps: Tensor, ref_kl_logps: Tensor) -> Tensor:
    """KTO's reference point z0: an estimate of KL(π ‖ π_ref), clamped at 0, with no gradient.

    policy_kl_logps, ref_kl_logps: (M,) log-probs of mismatched completions, each scored under a
    prompt it was not written for (TRL pairs prompt i with completion i−1 of the same batch).
    Their mean log-ratio estimates the KL. Returns a 0-dim tensor in log-ratio units (not times β).
    TRL computes the policy side under no_grad and, on several processes, averages the means of
    all processes before clamping; this is the one-process case.
    """
    return (policy_kl_logps - ref_kl_logps).mean().clamp(min=0).detach()


def kto_loss(policy_chosen_logps: Tensor, policy_rejected_logps: Tensor, ref_chosen_logps: Tensor,
             ref_rejected_logps: Tensor, beta: float, *, reference_point: Tensor | float,
             desirable_weight: float = 1.33, undesirable_weight: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """KTO, unpaired (Ethayarajh et al. 2024, arXiv 2402.01306, Eq. 7), as TRL's KTOTrainer computes it.

    policy_chosen_logps, ref_chosen_logps: (n_D,) completion log-probs of the desirable examples.
    policy_rejected_logps, ref_rejected_logps: (n_U,) the same for the undesirable ones; n_D and n_U
    may differ, and either may be 0. reference_point: z0 from `kto_reference_point`.
    With ρ = log π − log π_ref, a desirable example costs λ_D·(1 − σ(β(ρ − z0))) and an undesirable
    one λ_U·(1 − σ(β(z0 − ρ))). The loss is the plain mean of all n_D + n_U weighted terms, not
    divided by the weights (TRL: torch.cat, then nanmean; a NaN here propagates instead of being
    skipped). Default weights are Eurus's λ_D/λ_U = 1.33 (paper §3); TRL's defaults are 1.0 and 1.0.
    Returns (loss, chosen_rewards: (n_D,), rejected_rewards: (n_U,)), rewards β·ρ detached.
    """
    chosen_logratios = policy_chosen_logps - ref_chosen_logps.detach()
    rejected_logratios = policy_rejected_logps - ref_rejected_logps.detach()
    z0 = torch.as_tensor(reference_point).detach()  # the KTO paper does not backpropagate through z0
    chosen_losses = 1 - torch.sigmoid(beta * (chosen_logratios - z0))
    rejected_losses = 1 - torch.sigmoid(beta * (z0 - rejected_logratios))
    losses = torch.cat([desirable_weight * chosen_losses, undesirable_weight * rejected_losses])
    if losses.numel() == 0:
        raise ValueError("kto_loss got no examples: pass at least one desirable or undesirable completion.")
    return losses.mean(), beta * chosen_logratios.detach(), beta * rejected_logratios.detach()


def bt_loss(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """Bradley-Terry (Eurus §3, L_BT): mean of −log σ(r_c − r_r) over (B,) reward-model outputs.

    Only the difference counts: adding the same number to every reward leaves it unchanged.
    Same as TRL's RewardTrainer loss when the batch has no margin.
    """
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def dr_loss(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """Eurus's direct reward term (§3, L_DR): mean of −log σ(r_c) − log σ(−r_r) over (B,) rewards.

    Pushes a correct answer's reward above 0 and a wrong one's below 0, in absolute terms.
    """
    return (-F.logsigmoid(chosen_rewards) - F.logsigmoid(-rejected_rewards)).mean()


def reward_model_loss(chosen_rewards: Tensor, rejected_rewards: Tensor, objective: str = "bt+dr",
                      dr_rows: Tensor | None = None) -> Tensor:
    """Eurus-RM's objective on a batch that may mix data sources (paper §3), as a batch mean.

    chosen_rewards, rejected_rewards: (B,) reward-model outputs. objective: "bt+dr" (the paper's
    L_UltraInteract = L_BT + L_DR), or the Table 4 ablations "bt" (w/o L_DR) and "dr" (w/o L_BT).
    dr_rows: (B,) bool, the rows that get `objective` (UltraInteract pairs: a correct answer against
    a wrong one); the other rows get L_BT alone, as the paper trains on UltraFeedback/UltraSafety.
    None means every row. With objective "bt", dr_rows changes nothing.
    """
    if objective not in RM_OBJECTIVES:
        raise ConfigError(f"Unknown reward-model objective {objective!r}: use one of {', '.join(RM_OBJECTIVES)}.")
    bt = -F.logsigmoid(chosen_rewards - rejected_rewards)
    dr = -F.logsigmoid(chosen_rewards) - F.logsigmoid(-rejected_rewards)
    rows = torch.ones_like(bt, dtype=torch.bool) if dr_rows is None else dr_rows.to(torch.bool)
    if rows.shape != bt.shape:
        raise ValueError(f"dr_rows has shape {tuple(rows.shape)} but the batch has {tuple(bt.shape)} rows.")
    per_row = {"bt": bt, "dr": torch.where(rows, dr, bt), "bt+dr": bt + torch.where(rows, dr, 0.0)}[objective]
    return per_row.mean()
