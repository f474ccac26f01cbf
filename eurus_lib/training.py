"""What the SFT, preference and reward-model stages share around TRL's trainers.

    args = trainer_args(SFTConfig, cfg.sft, out_dir, seed=cfg.run.seed, device=device)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                         callbacks=[StepLog(out_dir / "log.jsonl")])
    trainer.train(resume_from_checkpoint=last_checkpoint(out_dir))

The kit wraps TRL rather than copying it: these helpers turn the flat stage settings into TRL's
config objects, log every optimizer step to a JSONL file (the reward dynamics of figure 5 are
plotted from it), and make a killed stage resume from its last checkpoint: checkpoints are
written every `save_steps` steps and the log is cut back to the checkpoint's step on resume,
so no step is lost or logged twice.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from .dist import is_main_process
from .jsonl import read_jsonl, write_jsonl

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def trainer_args(config_cls, settings, out_dir: Path, *, seed: int, device: str, **extra):
    """A TRL/transformers config from a stage's flat settings (lr, epochs, batch, schedule, ...)."""
    import torch

    cuda = device == "cuda"
    bf16 = cuda and torch.cuda.is_bf16_supported()
    values = dict(
        output_dir=str(out_dir), learning_rate=settings.lr, num_train_epochs=settings.epochs,
        max_steps=settings.max_steps, warmup_steps=settings.warmup_ratio, lr_scheduler_type=settings.scheduler,
        per_device_train_batch_size=settings.batch_size, gradient_accumulation_steps=settings.grad_accum,
        logging_steps=1, save_strategy="steps", save_steps=settings.save_steps, save_total_limit=1,
        report_to="none", seed=seed, data_seed=seed, use_cpu=not cuda, bf16=bf16,
        dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=False,
        # TRL turns checkpointing on by default, and with it makes the inputs require grad, so backward runs
        # through every layer even when LoRA sits on the top few (model.lora_layers). The kit turns it on from
        # model.gradient_checkpointing when loading (models._finish).
        gradient_checkpointing=False,
    )
    values.update(extra)
    return config_cls(**values)


def last_checkpoint(out_dir: Path) -> str | None:
    """The newest `checkpoint-<step>` folder in out_dir, or None."""
    steps = [(int(m.group(1)), p) for p in Path(out_dir).glob("checkpoint-*") if (m := CHECKPOINT.match(p.name))]
    return str(max(steps)[1]) if steps else None


def checkpoint_step(path: str | None) -> int:
    return int(CHECKPOINT.match(Path(path).name).group(1)) if path else 0


def drop_checkpoints(out_dir: Path) -> None:
    """Remove checkpoint folders once the final model is saved (they hold optimizer state)."""
    for p in Path(out_dir).glob("checkpoint-*"):
        shutil.rmtree(p, ignore_errors=True)


def steps_per_epoch(n_rows: int, settings) -> int:
    return max(1, math.ceil(n_rows / (settings.batch_size * settings.grad_accum)))


def planned_steps(n_rows: int, settings) -> int:
    """Optimizer steps a run will take: max_steps, or the epochs over n_rows."""
    if settings.max_steps > 0:
        return settings.max_steps
    return max(1, math.ceil(steps_per_epoch(n_rows, settings) * settings.epochs))


def _step_log_class():
    from transformers import TrainerCallback

    class StepLog(TrainerCallback):
        """Append every logged step to a JSONL file; call `on_record` too (e.g. a live plot in a notebook).

        On resume from checkpoint k, rows after step k are dropped first, so the file ends up with
        each step exactly once.
        """

        def __init__(self, path: Path, *, resume_step: int = 0, on_record: Callable[[dict], None] | None = None,
                     extra: dict | None = None):
            self.path, self.on_record, self.extra = Path(path), on_record, extra or {}
            if is_main_process():
                kept = [r for r in read_jsonl(self.path) if r.get("step", 0) <= resume_step] if resume_step else []
                write_jsonl(self.path, kept)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "train_runtime" in logs or not is_main_process():
                return
            record = {"step": state.global_step, "progress": state.global_step / max(1, state.max_steps),
                      **self.extra, **{k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}}
            with self.path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            if self.on_record is not None:
                self.on_record(record)

    return StepLog


def StepLog(*args, **kwargs):  # noqa: N802 - a class made lazily so importing this module needs no transformers
    return _step_log_class()(*args, **kwargs)


@contextlib.contextmanager
def compact_lm_head():
    """Within the block, TRL's fused LM head projects only the positions that have a label, on any device.

    TRL 1.16 (trainer/utils.py, add_fused_lm_head) scores only labelled positions where Triton runs
    and every position elsewhere, so that Neuron compiles one tile shape per batch size. On a CPU
    that runs the 49k-word head, in forward and again in backward, over every prompt token, and a
    multi-turn pair is mostly prompt, and an SFT row's instruction about half of one. The
    per-token log-probs are the same either way (each position is scored on its own); only which
    rows are computed changes. Eight SFT steps on the tiny run's rows took 42.2 s with it against
    63.9 s without, with the same losses (benchmarks/bench_sft_head.py).
    """
    import trl.trainer.utils as trl_utils

    original = trl_utils._use_triton
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original
