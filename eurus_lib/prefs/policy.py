"""The policy each preference run starts from, which is also its reference: the SFT policy.

    start = start_policy(run.root / "sft" / "model", cfg.model, device)
    trainer = DPOTrainer(model=start.model, peft_config=start.peft_config, ...)
    save_policy(trainer, start, out_dir / "model", sft_dir)

How the SFT policy is loaded decides what "the reference" is, with no second model in memory:

- "merge" (LoRA on fp32/bf16 weights, the tiny preset): the SFT adapter is merged into the base
  weights in memory (W + s·BA, exact up to the rounding of the weights' dtype) and TRL adds fresh
  LoRA adapters from `peft_config`. With the adapters disabled the model *is* the SFT policy, which
  is how TRL's precompute scores the reference. The trained adapter is saved with `sft/model` named
  as its base (a path relative to the adapter), and `models.load_policy` merges that one first.
- "ref_adapter" (QLoRA, `model.load_in_4bit`): merging into NF4 weights re-quantizes them, so a
  merged model would no longer be the SFT policy that was evaluated. The SFT adapter itself is
  loaded trainable on the 4-bit base instead, and TRL copies it into a frozen "ref" adapter
  (TRL's documented path for re-training an existing adapter: dpo_trainer.py / kto_trainer.py,
  "an initial copy is loaded under the name 'ref'"). The reference is exact (same quantized base,
  same SFT adapter) for the memory of one more adapter, and the saved adapter stands on the base.
- "full" (`model.lora_r=0`, multi-GPU full fine-tuning): the SFT checkpoint is loaded whole and
  TRL's precompute scores it before the first update (precompute_ref_log_probs keeps no ref model).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Start:
    model: Any
    tok: Any
    peft_config: Any  # LoRA config TRL applies ("merge"), else None
    mode: str  # "merge", "ref_adapter" or "full"


def start_mode(settings) -> str:
    if settings.lora_r == 0:
        return "full"
    return "ref_adapter" if settings.load_in_4bit else "merge"


def start_policy(sft_dir: str | Path, settings, device: str, mode: str | None = None, lora_layers: int = -1) -> Start:
    """The SFT policy, ready for a TRL preference trainer (see the module docstring for the modes).

    lora_layers: the top k layers that get fresh adapters in "merge" mode (`prefs.lora_layers`; -1:
    as `settings.lora_layers`).
    """
    from ..models import load_policy

    mode = mode or start_mode(settings)
    model, tok = load_policy(str(sft_dir), settings, device=device)
    if mode == "full":
        return Start(_trainable(model), tok, None, mode)
    if not hasattr(model, "merge_and_unload"):
        from ..errors import KitError

        raise KitError(f"{sft_dir} holds no LoRA adapter, but model.lora_r={settings.lora_r}; re-run the sft stage "
                       "with these model settings.")
    if mode == "merge":
        model = model.merge_and_unload()
        fresh = settings if lora_layers < 0 else dataclasses.replace(settings, lora_layers=lora_layers)
        return Start(_trainable(model), tok, lora_config(model, fresh), mode)
    for name, param in model.named_parameters():  # the SFT adapter trains on; TRL copies it to "ref" first
        param.requires_grad_("lora_" in name)
    return Start(_trainable(model), tok, None, mode)


def _trainable(model):
    model.train()  # from_pretrained returns eval mode; TRL disables dropout itself
    return model


def lora_config(model, settings):
    """Fresh adapters like `models.add_lora` makes them (same rank, targets and top-k layers), for TRL to add."""
    from peft import LoraConfig

    from ..models import linear_module_names

    layers, targets = None, settings.lora_targets
    if settings.lora_layers:
        n = model.config.num_hidden_layers
        layers = list(range(max(0, n - settings.lora_layers), n))
        if targets == "all-linear":  # peft takes a layer subset only with named modules
            targets = linear_module_names(model)
    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM", layers_to_transform=layers)


def save_policy(trainer, start: Start, folder: Path, sft_dir: Path) -> Path:
    """Save the trained policy; in "merge" mode its adapter names the SFT adapter as its base."""
    trainer.save_model(str(folder))
    start.tok.save_pretrained(str(folder))
    config = folder / "adapter_config.json"
    if start.mode == "merge" and config.is_file():
        data = json.loads(config.read_text())
        data["base_model_name_or_path"] = os.path.relpath(Path(sft_dir).resolve(), folder.resolve())
        config.write_text(json.dumps(data, indent=2))
    return folder
