"""TRL's DPO and KTO trainers, taught two things: reuse shared reference log-probs, and log the same keys.

    trainer = SharedRefDPOTrainer(model=..., args=DPOConfig(precompute_ref_log_probs=True, ...),
                                  train_dataset=ds_with_ref_columns, callbacks=[RewardKeys(), StepLog(...)])

1. With `precompute_ref_log_probs=True` TRL scores the whole dataset with the reference model
   before training (`_precompute_ref_logps`). The preference stage scores it once
   (`prefs.reference`) and hands the values to every run as dataset columns; these subclasses
   skip TRL's pass when the columns are there and run it unchanged when they are not.
2. Every algorithm logs `rewards/chosen`, `rewards/rejected`, `rewards/margins`,
   `rewards/accuracies` and `loss`, each reward being β·(log π − log π_ref) (eurus_lib.losses).
   TRL 1.16's DPOTrainer logs all of them. Its KTOTrainer logs chosen and rejected as each
   micro-batch's sum divided by its count (kto_trainer.py `_compute_loss`), the margin as their
   difference, and no accuracy, since KTO's data is unpaired. Here every KTO batch holds both
   sides of the same pairs (`prefs.data.kto_layout`), so `SharedRefKTOTrainer` adds the paired
   accuracy DPO logs: the share of pairs whose desirable row out-rewards its undesirable row.
   Older TRL (<= 0.11) logged `rewards/chosen_sum` and `count/chosen` instead; `standard_keys`
   maps those too, so a log file always has the same keys.
3. Training and TRL's reference pass run under `training.compact_lm_head`, which makes TRL's
   fused LM head score only the completion positions on a CPU too: most tokens of a multi-turn
   pair are prompt.
"""

from __future__ import annotations

import functools
import math

REWARD_KEYS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "loss")
DPO_REF_COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")
KTO_REF_COLUMNS = ("ref_logps", "ref_KL_logps")


def standard_keys(logs: dict) -> dict:
    """The five reward keys from whatever names a TRL version logged (sums and counts, or means)."""
    out = {}
    for side in ("chosen", "rejected"):
        key, total, count = f"rewards/{side}", logs.get(f"rewards/{side}_sum"), logs.get(f"count/{side}")
        if key in logs:
            out[key] = logs[key]
        elif total is not None and count:
            out[key] = total / count
    if "rewards/margins" in logs:
        out["rewards/margins"] = logs["rewards/margins"]
    elif "rewards/chosen" in out and "rewards/rejected" in out:
        out["rewards/margins"] = out["rewards/chosen"] - out["rewards/rejected"]
    for key in ("rewards/accuracies", "loss"):
        if key in logs:
            out[key] = logs[key]
    return out


def pairwise_accuracy(rewards, labels) -> float:
    """Share of pairs whose desirable row out-rewards its undesirable row.

    rewards: (2n,) implicit rewards of one KTO batch; labels: (2n,) bools, the n desirable rows in
    pair order and the n undesirable rows in the same pair order (`kto_layout`). NaN when the batch
    is not laid out that way.
    """
    desirable, undesirable = rewards[labels], rewards[~labels]
    if desirable.numel() == 0 or desirable.numel() != undesirable.numel():
        return math.nan
    return (desirable > undesirable).float().mean().item()


def has_columns(dataset, columns) -> bool:
    return all(c in dataset.column_names for c in columns)


@functools.cache
def trainer_classes():
    """(SharedRefDPOTrainer, SharedRefKTOTrainer, RewardKeys), built on first use so importing needs no TRL."""
    import torch
    from transformers import TrainerCallback
    from trl import DPOTrainer, KTOTrainer

    class SharedRefDPOTrainer(DPOTrainer):
        def _precompute_ref_logps(self, dataset, name, batch_size):
            if has_columns(dataset, DPO_REF_COLUMNS):
                return dataset  # the stage's shared reference log-probs: do not score the reference again
            return super()._precompute_ref_logps(dataset, name, batch_size)

    class SharedRefKTOTrainer(KTOTrainer):
        def _precompute_ref_logps(self, dataset, name, batch_size):
            if has_columns(dataset, KTO_REF_COLUMNS):
                return dataset
            return super()._precompute_ref_logps(dataset, name, batch_size)

        def _compute_loss(self, model, inputs, return_outputs):
            seen = []  # (log_probs, grad enabled) of every forward: the KL pass (no grad), then the policy pass
            hook = model.register_forward_hook(
                lambda _m, _a, out: seen.append((getattr(out, "log_probs", None), torch.is_grad_enabled())))
            try:
                result = super()._compute_loss(model, inputs, return_outputs)
            finally:
                hook.remove()
            self._log_accuracy(inputs, [lp for lp, grad in seen if grad and lp is not None])
            return result

        def _log_accuracy(self, inputs, policy_log_probs):
            if not self.model.training or not policy_log_probs or "ref_logps" not in inputs:
                return
            seq_len = inputs["input_ids"].size(1) - 1  # as TRL slices the completion log-probs
            logps = policy_log_probs[-1].detach()[:, -seq_len:].sum(-1)
            rewards = self.beta * (logps - inputs["ref_logps"].to(logps.device))
            acc = pairwise_accuracy(rewards, inputs["label"].to(logps.device).bool())
            if not math.isnan(acc):
                self._metrics["train"]["rewards/accuracies"].append(acc)

    class RewardKeys(TrainerCallback):
        """Put the standard reward keys into the logs before StepLog writes them (list it first)."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                logs.update(standard_keys(logs))

    return SharedRefDPOTrainer, SharedRefKTOTrainer, RewardKeys

