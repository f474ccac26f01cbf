"""Notebook 02's pieces around the sft stage: TRL's loss on one batch, a few-step live SFT run, and its scoring.

    batch, loss = trl_sft_loss(model, tok, examples[:2], cfg.sft, max_length=768, device="cpu")
    model, tok, summary = train_sft_demo(cfg, run, rows, "cpu", on_record=view.update)

`trl_sft_loss` builds TRL's SFTTrainer with the stage's own config (`sft.train.sft_config`) and
returns the first batch it collates and the loss it computes on it, so the notebook's hand-written
loss can be checked against the library's path. `train_sft_demo` is `sft.train.train_sft`, the
stage's training function, on a copy of the settings, into `<run>/notebooks/02_sft/`: the
stage's own `sft/` folder is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

DEMO_FOLDER = ("notebooks", "02_sft")


def trl_sft_loss(model, tok, examples: Sequence[dict], settings, *, max_length: int, device: str, seed: int = 0):
    """(first collated batch, TRL's loss on it) for `examples`, with the sft stage's SFTConfig.

    The batch holds every example (batch size = len(examples)); labels are -100 outside the
    completion, which is what `completion_only_loss=True` does.
    """
    import dataclasses

    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    from ..sft.train import sft_config

    settings = dataclasses.replace(settings, batch_size=len(examples), grad_accum=1)
    with tempfile.TemporaryDirectory() as out:
        args = sft_config(settings, out, seed=seed, device=device, max_length=max_length)
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(list(examples)),
                             processing_class=tok)
        batch = {k: v.to(device) for k, v in next(iter(trainer.get_train_dataloader())).items()}
        with torch.no_grad():
            loss = trainer.compute_loss(model, batch)
    return batch, loss


def split_by_loss(tok, input_ids, labels) -> tuple[str, str]:
    """(text the loss ignores, text it trains on) of one tokenized example (labels -100 = ignored)."""
    ids, labels = list(map(int, input_ids)), list(map(int, labels))
    context = [t for t, lab in zip(ids, labels) if lab == -100]
    trained = [t for t, lab in zip(ids, labels) if lab != -100]
    return tok.decode(context), tok.decode(trained)


def train_sft_demo(cfg, run, rows: Sequence[dict], device: str,
                   on_record: Callable[[dict], None] | None = None):
    """(model in eval mode, tokenizer, summary): the sft stage's training function, briefly, from the base model."""
    from transformers import set_seed

    from ..models import load_policy
    from ..sft.data import to_examples
    from ..sft.train import train_sft

    out = run.root.joinpath(*DEMO_FOLDER)
    shutil.rmtree(out, ignore_errors=True)  # a fresh demo: no checkpoint to resume, no stale held-out answers
    set_seed(cfg.run.seed)  # the same fresh LoRA weights as the sft stage starts from
    model, tok = load_policy(cfg.model.policy, cfg.model, device=device, lora=True, trainable=True)
    summary = train_sft(model, tok, to_examples(list(rows)), cfg.sft, out, seed=cfg.run.seed, device=device,
                        max_length=cfg.model.max_seq_len, on_record=on_record)
    model.eval()
    return model, tok, summary


def demo_folder(run) -> Path:
    return run.root.joinpath(*DEMO_FOLDER)


def score_base_and_demo(run, cfg, tasks, demo_model, tok, device: str) -> dict:
    """Held-out records of the base model and of the demo SFT policy, written under the demo folder.

    The demo policy is the base with its LoRA adapter, so both answer in one batch: the base's rows
    run with the adapter off (`policies.heldout_records_together`).
    """
    from ..models import load_policy
    from ..policies import heldout_records, heldout_records_together

    stage = "/".join(DEMO_FOLDER)
    if hasattr(demo_model, "active_adapter"):
        adapters = {"base": "__base__", "sft": demo_model.active_adapter}
        return heldout_records_together(run, stage, adapters, demo_model, tok, cfg, tasks)
    base, base_tok = load_policy(cfg.model.policy, cfg.model, device=device)  # a full fine-tune: two models
    records = {"base": heldout_records(run, stage, "base", base, base_tok, cfg, tasks)}
    del base
    records["sft"] = heldout_records(run, stage, "sft", demo_model, tok, cfg, tasks)
    return records
