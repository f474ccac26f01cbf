"""One preference run (DPO, KTO or NCA) through TRL's trainers, with shared reference log-probs and resume.

    summary = train_algorithm("kto", start, rows, cfg.prefs, run.root / "prefs" / "kto",
                              sft_dir=run.root / "sft" / "model", seed=0, device="cpu", max_length=768)

DPO and NCA are TRL's DPOTrainer with loss_type "sigmoid" (Rafailov et al. 2023, arXiv 2305.18290)
and "nca_pair" (Chen et al. 2024, arXiv 2402.05369); KTO is TRL's KTOTrainer (Ethayarajh et al.
2024, arXiv 2402.01306) with desirable:undesirable weights `prefs.kto_desirable_weight`:1 (paper:
1.33). All three get the same pairs in the same batches (`prefs.data`), the same seed, the same
optimizer steps and schedule. The budget in completions is the same too: a DPO step on B pairs
runs 2B completions (chosen and rejected), and KTO's per-device batch is the 2B rows of the same B
pairs, desirable and undesirable. KTO also runs a no-grad forward of the policy on its 2B KL rows
each step: that is KTO's own cost, not extra data.

Every step's rewards go to `<out_dir>/log.jsonl` (`training.StepLog`, keys in `prefs.trainers`).
A checkpoint is written every `save_steps`; a killed run resumes from the last one, and the log is
cut back to that step first, so no step is lost or logged twice. A finished run leaves
`<out_dir>/train.json` and is not trained again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..training import CHECKPOINT, StepLog, checkpoint_step, compact_lm_head, drop_checkpoints, trainer_args
from ..trunk import installed_where_shared
from .policy import Start, save_policy
from .trainers import trainer_classes

DONE_FILE = "train.json"


def algorithm_config(algo: str, settings, out_dir: Path, *, seed: int, device: str, max_length: int,
                     gradient_checkpointing: bool = False):
    """The TRL config of one algorithm: shared settings, its own loss, the fixed batch order."""
    from trl import DPOConfig, KTOConfig

    common = dict(seed=seed, device=device, beta=settings.beta, max_length=max_length, precompute_ref_log_probs=True,
                  train_sampling_strategy="sequential", gradient_checkpointing=gradient_checkpointing)
    if algo == "kto":
        return trainer_args(KTOConfig, settings, out_dir, **common, loss_type="kto",
                            per_device_train_batch_size=2 * settings.batch_size,
                            desirable_weight=settings.kto_desirable_weight, undesirable_weight=1.0)
    loss = {"dpo": "sigmoid", "nca": "nca_pair"}[algo]
    return trainer_args(DPOConfig, settings, out_dir, **common, loss_type=[loss])


def train_algorithm(algo: str, start: Start, rows: list[dict], settings, out_dir: str | Path, *, sft_dir: Path,
                    seed: int, device: str, max_length: int, gradient_checkpointing: bool = False,
                    on_record: Callable[[dict], None] | None = None, callbacks: Sequence = (), trunk=None) -> dict:
    """Train one algorithm from `start` on its rows (`prefs.data.dpo_rows` / `kto_rows`); save and summarize.

    on_record gets every logged step (a notebook's live plot); callbacks are extra TrainerCallbacks.
    trunk: a `trunk.TrunkCache` the runs of one stage share (filled by the reference pass): the
    frozen layers below `prefs.lora_layers` are then read, not recomputed, on every step. Exact.
    """
    from datasets import Dataset

    out_dir = Path(out_dir)
    dpo_cls, kto_cls, reward_keys = trainer_classes()
    resume = complete_checkpoint(out_dir)
    args = algorithm_config(algo, settings, out_dir, seed=seed, device=device, max_length=max_length,
                            gradient_checkpointing=gradient_checkpointing)
    log = StepLog(out_dir / "log.jsonl", resume_step=checkpoint_step(resume), on_record=on_record,
                  extra={"algorithm": algo})
    from transformers import set_seed

    set_seed(seed)  # TRL adds the fresh adapters here: every algorithm starts from the same LoRA init
    trainer = (kto_cls if algo == "kto" else dpo_cls)(
        model=start.model, args=args, train_dataset=Dataset.from_list(rows), processing_class=start.tok,
        peft_config=start.peft_config, callbacks=[reward_keys(), log, *callbacks])
    if resume:
        print(f"[prefs] {algo}: resuming from {resume}", flush=True)
    with compact_lm_head(), installed_where_shared(trunk, trainer.model):
        result = trainer.train(resume_from_checkpoint=resume)
    save_policy(trainer, start, out_dir / "model", sft_dir)
    drop_checkpoints(out_dir)
    summary = {"algorithm": algo, "steps": trainer.state.global_step, "train_loss": result.training_loss,
               "seconds": result.metrics.get("train_runtime"), "rows": len(rows), "resumed_from": resume and
               checkpoint_step(resume)}
    (out_dir / DONE_FILE).write_text(json.dumps(summary, indent=1))
    return summary


def complete_checkpoint(out_dir: Path) -> str | None:
    """The newest checkpoint that was written to its end, or None.

    transformers writes a checkpoint folder in place and its trainer_state.json last
    (Trainer._save_checkpoint), so a kill while saving leaves a newer, partial folder beside the
    last whole one; `training.last_checkpoint` would pick the partial one and the resume would fail.
    """
    whole = [(int(m.group(1)), p) for p in Path(out_dir).glob("checkpoint-*")
             if (m := CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()]
    return str(max(whole)[1]) if whole else None


def finished(out_dir: Path) -> dict | None:
    """The summary of a finished run, or None (never trained, or killed before saving its model)."""
    path = Path(out_dir) / DONE_FILE
    return json.loads(path.read_text()) if path.is_file() and (Path(out_dir) / "model").is_dir() else None
