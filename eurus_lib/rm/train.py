"""One reward-model run through TRL's RewardTrainer, with Eurus's loss chosen per row by its source.

    summary = train_objective("bt+dr", model, tok, mode, rows, cfg.rm, run.root / "rm" / "bt+dr",
                              sft_dir=run.root / "sft" / "model", seed=0, device="cpu", max_length=768)

TRL's RewardTrainer computes −log σ(r_c − r_r) for every row. Eurus-RM (paper section 3) adds
L_DR = −log σ(r_c) − log σ(−r_r) on UltraInteract pairs only, so `EurusRewardTrainer.compute_loss`
reads a per-row `dr_rows` mask (from the rows' `source`, collated by `SourceCollator`) and calls
`eurus_lib.losses.reward_model_loss(chosen, rejected, objective, dr_rows)`: the tested loss, not a
copy. Everything else (batching, padding, optimizer, schedule, checkpoints) is TRL's and
transformers'. Each step logs the batch's mean chosen and rejected reward, margin, accuracy and
loss to `<out_dir>/log.jsonl` (`training.StepLog`; the keys are DPOTrainer's, `rewards/chosen`
etc., so the reward-dynamics plot of figure 5 draws them too). A checkpoint is written every
`save_steps`; a killed run resumes from the last one. A finished run leaves `<out_dir>/train.json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..training import StepLog, checkpoint_step, drop_checkpoints, last_checkpoint, trainer_args
from .model import save_reward_model

DONE_FILE = "train.json"
_CLASSES: dict = {}


def trainer_classes():
    """(EurusRewardTrainer, SourceCollator), made on first use so importing this module needs no TRL."""
    if not _CLASSES:
        _CLASSES.update(_make_classes())
    return _CLASSES["trainer"], _CLASSES["collator"]


def _make_classes() -> dict:
    from dataclasses import dataclass

    import torch
    from trl import RewardTrainer
    from trl.trainer.reward_trainer import DataCollatorForPreference

    from ..losses import reward_model_loss

    @dataclass
    class SourceCollator(DataCollatorForPreference):
        """TRL's preference collator (chosen rows, then rejected rows) plus each pair's L_DR flag."""

        def torch_call(self, examples):
            batch = super().torch_call(examples)
            batch["dr_rows"] = torch.tensor([bool(e["dr"]) for e in examples])
            return batch

    class EurusRewardTrainer(RewardTrainer):
        """RewardTrainer whose loss is `reward_model_loss(chosen, rejected, objective, dr_rows)`."""

        def __init__(self, *args, objective: str, trunk=None, **kwargs):
            self.objective, self.trunk = objective, trunk
            super().__init__(*args, **kwargs)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            dr_rows = inputs.pop("dr_rows")
            inputs.pop("margin", None)  # our rows carry none; Eurus's losses have no margin term
            # With a shared trunk (trunk.py) the frozen layers' output comes from the cache: the same numbers.
            forward = model if self.trunk is None else lambda **kw: self.trunk.forward(model, **kw)
            outputs = forward(**inputs, use_cache=False)
            chosen, rejected = torch.chunk(outputs.logits.squeeze(-1).float(), chunks=2)
            loss = reward_model_loss(chosen, rejected, self.objective, dr_rows)
            self._record(chosen.detach(), rejected.detach(), dr_rows)
            return (loss, outputs) if return_outputs else loss

        def _record(self, chosen, rejected, dr_rows):
            mode = "train" if self.model.training else "eval"
            values = {"rewards/chosen": chosen.mean(), "rewards/rejected": rejected.mean(),
                      "rewards/margins": (chosen - rejected).mean(),
                      "rewards/accuracies": (chosen > rejected).float().mean(), "dr_share": dr_rows.float().mean()}
            for key, value in values.items():
                self._metrics[mode][key].append(self.accelerator.gather_for_metrics(value).mean().item())

    return {"trainer": EurusRewardTrainer, "collator": SourceCollator}


def sampling(settings) -> str:
    """Length-grouped batches over whole epochs (pairs range from one-turn to 3-turn: less padding); random
    batches when `max_steps` caps the run, since transformers' length grouping serves the
    longest pairs first and a short run would see only those."""
    return "group_by_length" if settings.max_steps <= 0 else "random"


def is_trained(out_dir: Path) -> bool:
    return (Path(out_dir) / DONE_FILE).is_file() and (Path(out_dir) / "model").is_dir()


def train_objective(objective: str, model, tok, mode: str, rows: list[dict], settings, out_dir: str | Path, *,
                    sft_dir: Path, seed: int, device: str, max_length: int, trunk=None,
                    on_record: Callable[[dict], None] | None = None) -> dict:
    """Train one objective on `rows` (`data.tokenize_pairs`); save the model to out_dir/model; summarize.

    `trunk`: a `trunk.TrunkCache` shared by the objectives of one run (see trunk.py), or None.
    """
    from datasets import Dataset
    from trl import RewardConfig

    out_dir = Path(out_dir)
    if trunk is not None:  # a pair's two answers share their prompt: it runs through the trunk once
        trunk.fill(model, [[r["chosen_ids"], r["rejected_ids"]] for r in rows], pad_id=tok.pad_token_id,
                   batch_size=settings.score_batch_size, progress=f"{objective}: trunk")
    trainer_cls, collator_cls = trainer_classes()
    resume = last_checkpoint(out_dir)
    args = trainer_args(RewardConfig, settings, out_dir, seed=seed, device=device, max_length=max_length,
                        train_sampling_strategy=sampling(settings), length_column_name="length")
    trainer = trainer_cls(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                          data_collator=collator_cls(pad_token_id=tok.pad_token_id), objective=objective,
                          trunk=trunk,
                          callbacks=[StepLog(out_dir / "log.jsonl", resume_step=checkpoint_step(resume),
                                             on_record=on_record, extra={"objective": objective})])
    if resume:
        print(f"[rm] {objective}: resuming from {resume}", flush=True)
    cpu = time.process_time()  # CPU seconds of this process: a timing that other jobs on the machine barely move
    result = trainer.train(resume_from_checkpoint=resume)
    save_reward_model(trainer, tok, mode, out_dir / "model", Path(sft_dir))
    drop_checkpoints(out_dir)
    summary = {"objective": objective, "mode": mode, "steps": trainer.state.global_step,
               "train_loss": result.training_loss, "seconds": result.metrics.get("train_runtime"),
               "cpu_seconds": time.process_time() - cpu, "pairs": len(rows)}
    (out_dir / DONE_FILE).write_text(json.dumps(summary, indent=1))
    return summary
