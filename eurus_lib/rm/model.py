"""The reward model: the SFT policy's body plus a new one-output linear head, and the trained ones reloaded.

    model, tok, mode = start_reward_model(run.root / "sft" / "model", cfg.model, "cpu", seed=0)
    rm, tok = load_trained_reward_model(run, "bt+dr", cfg, "cpu")     # what the eval stage reranks with

Like the released Eurus-RM-7B (`regression_head = nn.Linear(hidden, 1, bias=False)` on a Mistral body,
read at the last non-pad token; eurus-paper.md "Released RM architecture"), the model is HF's
sequence-classification model with one label: the `score` head is a bias-free linear layer read at
the rightmost non-pad token. It starts from Eurus-7B-SFT (paper section 3), here `sft/model/`:

- "merge" (LoRA on fp32/bf16 weights, the tiny preset): the SFT adapter is merged into the weights
  (W + s·BA, exact up to the dtype's rounding), then fresh LoRA adapters (on the last `rm.lora_layers`
  layers when set) and the head train. The saved adapter names `sft/model` as its base (a path
  relative to it), and `models.load_reward_model` merges that one first, so the run folder moves.
- "continue" (QLoRA, `model.load_in_4bit`): merging into NF4 weights would re-quantize W + s·BA, and
  NF4's rounding step is far larger than a LoRA update, so much of what SFT learned would be lost.
  The SFT adapter itself is loaded trainable on the 4-bit base instead: the reward model starts as
  exactly the SFT body, and the adapter, with the head, trains on from there (same rank and layers
  as SFT; `rm.lora_layers` does not apply). The saved adapter stands on the base model.
- "full" (`model.lora_r=0`): the SFT checkpoint is loaded whole and every weight trains.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..errors import KitError


def start_mode(settings) -> str:
    if settings.lora_r == 0:
        return "full"
    return "continue" if settings.load_in_4bit else "merge"


def rm_model_settings(cfg):
    """`cfg.model` with the reward model's own `rm.lora_layers`, when set."""
    if not cfg.rm.lora_layers:
        return cfg.model
    return dataclasses.replace(cfg.model, lora_layers=cfg.rm.lora_layers)


def start_reward_model(sft_dir: str | Path, settings, device: str, *, seed: int, mode: str | None = None):
    """(model, tokenizer, mode): the SFT body with a fresh head, ready to train (see the module docstring)."""
    from transformers import set_seed

    from ..models import add_lora, load_reward_model

    set_seed(seed)  # the new head (and fresh LoRA) start alike for every objective: same seed, same start
    mode = mode or start_mode(settings)
    if mode == "continue":
        model, tok = _continued(sft_dir, settings, device)
        return _trainable(model, settings), tok, mode
    model, tok = load_reward_model(str(sft_dir), settings, device=device)
    if mode == "merge":
        if not hasattr(model, "merge_and_unload"):
            raise KitError(f"{sft_dir} holds no LoRA adapter, but model.lora_r={settings.lora_r}; re-run the sft "
                           "stage with these model settings.")
        model = add_lora(model.merge_and_unload(), settings, task_type="SEQ_CLS")
    return _trainable(model, settings), tok, mode


def _continued(sft_dir, settings, device: str):
    """The 4-bit base with the SFT adapter's weights in a trainable SEQ_CLS adapter (peft then trains and saves the head).

    peft cannot load a causal-LM adapter as a SEQ_CLS one directly (it looks for the head's weights in
    the file), so the same adapter layout is made fresh and the SFT weights are copied into it.
    """
    import torch
    from peft import PeftConfig, get_peft_model
    from peft.utils import load_peft_weights

    from ..models import load_reward_model, load_tokenizer

    config = PeftConfig.from_pretrained(str(sft_dir))
    config.task_type, config.inference_mode = "SEQ_CLS", False
    body, _ = load_reward_model(config.base_model_name_or_path, settings, device=device)
    tok = load_tokenizer(str(sft_dir), settings.chat_template)
    body.config.pad_token_id = tok.pad_token_id
    model = get_peft_model(body, config)
    saved = load_peft_weights(str(sft_dir), device=device)
    lora = {n: p for n, p in model.named_parameters() if "lora_" in n}
    missing = [n for n in lora if n.replace(".default", "") not in saved]
    if missing or len(lora) != len(saved):
        raise KitError(f"The SFT adapter in {sft_dir} does not match its own config ({len(saved)} tensors saved, "
                       f"{len(lora)} made, e.g. {missing[:1]} missing); re-run the sft stage.")
    with torch.no_grad():
        for name, param in lora.items():
            param.copy_(saved[name.replace(".default", "")])
    return model, tok


def _trainable(model, settings):
    model.train()  # from_pretrained returns eval mode, where HF skips gradient checkpointing
    if settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    return model


def save_reward_model(trainer, tok, mode: str, folder: Path, sft_dir: Path) -> Path:
    """Save adapter (or weights), head and tokenizer; a "merge" adapter names the SFT adapter as its base."""
    trainer.save_model(str(folder))
    tok.save_pretrained(str(folder))
    config = folder / "adapter_config.json"
    if mode == "merge" and config.is_file():
        data = json.loads(config.read_text())
        data["base_model_name_or_path"] = os.path.relpath(Path(sft_dir).resolve(), folder.resolve())
        config.write_text(json.dumps(data, indent=2))
    return folder


def model_folder(run, objective: str) -> Path:
    return run.root / "rm" / objective / "model"


def load_trained_reward_model(run, objective: str, cfg, device: str = "cpu"):
    """(reward model, tokenizer) that the rm stage trained with `objective`, in eval mode, for scoring."""
    from ..models import load_reward_model

    folder = model_folder(run, objective)
    if not folder.is_dir():
        raise KitError(f"No reward model for objective {objective!r} in {folder.parent}; run "
                       f"`eurus-kit rm --run-dir {run.root}` with rm.objectives including {objective}.")
    return load_reward_model(str(folder), cfg.model, device=device)
