"""Supervised fine-tuning with TRL's SFTTrainer: loss on the responses only, LoRA or QLoRA.

    from eurus_lib.sft.train import train_sft
    summary = train_sft(model, tok, examples, cfg.sft, out_dir, seed=0, device="cpu")

`examples` are conversational prompt/completion rows ({"prompt": [user], "completion":
[assistant]}), for which TRL computes the loss on the completion tokens alone (the paper trains
on the correct actions; the instruction is context). Batches are grouped by length so each pads
little, the LM head scores the completion tokens alone on every device (`training.compact_lm_head`),
and every `save_steps` steps a checkpoint is written, so a killed run resumes where it stopped
(`eurus_lib.training`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..training import (
    StepLog,
    checkpoint_step,
    compact_lm_head,
    drop_checkpoints,
    last_checkpoint,
    trainer_args,
)


def sft_config(settings, out_dir: str | Path, *, seed: int, device: str, max_length: int):
    """TRL's SFTConfig for the stage's settings: loss on the completion only, length-grouped batches.

    Notebook 02 builds the same trainer from it to show that its hand-written loss is TRL's.
    """
    from trl import SFTConfig

    return trainer_args(SFTConfig, settings, Path(out_dir), seed=seed, device=device, max_length=max_length,
                        completion_only_loss=True, train_sampling_strategy="group_by_length")


def train_sft(model, tok, examples: list[dict], settings, out_dir: str | Path, *, seed: int, device: str,
              max_length: int, on_record: Callable[[dict], None] | None = None) -> dict:
    """Train `model` (a peft LoRA model, or a full model) on `examples`; save it to out_dir/model."""
    from datasets import Dataset
    from trl import SFTTrainer

    out_dir = Path(out_dir)
    resume = last_checkpoint(out_dir)
    args = sft_config(settings, out_dir, seed=seed, device=device, max_length=max_length)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples), processing_class=tok,
                         callbacks=[StepLog(out_dir / "log.jsonl", resume_step=checkpoint_step(resume),
                                            on_record=on_record)])
    if resume:
        print(f"[sft] resuming from {resume}", flush=True)
    with compact_lm_head():  # the head over the answer tokens only, as on a GPU: same losses, 1.5x faster on CPU
        result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(out_dir / "model"))
    tok.save_pretrained(str(out_dir / "model"))
    drop_checkpoints(out_dir)
    return {"steps": trainer.state.global_step, "train_loss": result.training_loss,
            "seconds": result.metrics.get("train_runtime"), "rows": len(examples)}
