"""`patch_nf4_linears(model)`: route a bitsandbytes / peft model's 4-bit linears through our kernels.

Patches each `bitsandbytes.nn.Linear4bit` holding NF4 (base layers) and each peft LoRA wrapper
around one, by giving the module instance its own `forward`; `unpatch_nf4_linears` deletes it.
Anything our path does not cover (several active adapters, DoRA and other variants, merged or
disabled adapters, mixed-adapter batches, LoRA dropout while training, FP4 weights, K not a
multiple of the blocksize, CPU-packed weights) falls back to the original forward.

Auto mode (enable=None) reads the committed `nf4_configs.json`: on a card with an entry it uses
our path in each M regime (decode M=1, small M<=64, training above) where that entry's
measurement says ours won, and bitsandbytes elsewhere; on a card without an entry it keeps
bitsandbytes everywhere and says so once. Nothing is timed at patch time. CPU: a no-op unless
forced (enable=True, which uses the pure-torch reference).

    from eurus_lib.kernels import patch_nf4_linears
    n = patch_nf4_linears(model)          # after get_peft_model(...), on the GPU
"""

from __future__ import annotations

import types
import warnings

import torch

from . import nf4_ref
from .nf4_linear import nf4_linear

# Who serves each M regime: "ours" (nf4_linear: the M=1 / small-M kernels, decode + cuBLAS for
# training) or "bnb" (the original forward). patch_nf4_linears(enable=None) sets it from the JSON.
POLICY = {"gemv": "ours", "small": "ours", "large": "ours"}
SMALL_M = 64
_WARNED: set = set()


def _regime(m: int) -> str:
    return "gemv" if m == 1 else ("small" if m <= SMALL_M else "large")


def _is_nf4_linear(mod) -> bool:
    try:
        import bitsandbytes as bnb
    except ImportError:
        return False
    qs = getattr(getattr(mod, "weight", None), "quant_state", None)
    return isinstance(mod, bnb.nn.Linear4bit) and qs is not None and qs.quant_type == "nf4"


def _nf4_weight(base) -> nf4_ref.NF4Weight | None:
    """The layer's NF4 storage as kernels take it, or None when the kernels cannot use it."""
    qs = base.weight.quant_state
    if getattr(qs, "packing_format_for_cpu", False) or qs.shape[1] % qs.blocksize:
        return None
    try:
        return nf4_ref.from_bnb(base.weight)
    except ValueError:
        return None


def _compute_dtype(base, x):
    return base.compute_dtype if base.compute_dtype is not None else x.dtype


def _base_forward(self, x, *args, **kwargs):
    qw = _nf4_weight(self)
    if qw is None or POLICY[_regime(x.numel() // x.shape[-1])] == "bnb":
        return self._eurus_orig_forward(x, *args, **kwargs)
    y = nf4_linear(x.to(_compute_dtype(self, x)), qw, bias=self.bias)
    return y.to(x.dtype)


def _lora_fusable(self, kwargs) -> bool:
    if self.disable_adapters or self.merged or kwargs.get("adapter_names") is not None:
        return False
    active = [a for a in self.active_adapters if a in self.lora_A]
    if len(active) != 1 or active[0] in getattr(self, "lora_variant", {}):
        return False
    drop = self.lora_dropout[active[0]]
    return not (self.training and isinstance(drop, torch.nn.Dropout) and drop.p > 0)


def _lora_forward(self, x, *args, **kwargs):
    base = self.base_layer
    qw = _nf4_weight(base)
    if qw is None or POLICY[_regime(x.numel() // x.shape[-1])] == "bnb" or not _lora_fusable(self, kwargs):
        return self._eurus_orig_forward(x, *args, **kwargs)
    name = [a for a in self.active_adapters if a in self.lora_A][0]
    y = nf4_linear(x.to(_compute_dtype(base, x)), qw, self.lora_A[name].weight, self.lora_B[name].weight,
                   self.scaling[name], base.bias)
    return y.to(x.dtype)


def _targets(model):
    """(module, kind) for every patchable module: peft LoRA wrappers and bare NF4 linears."""
    out = []
    for mod in model.modules():
        base = getattr(mod, "base_layer", None)
        if base is not None and hasattr(mod, "lora_A") and _is_nf4_linear(base):
            out.append((mod, "lora"))
        elif _is_nf4_linear(mod):
            out.append((mod, "base"))
    return out


def _patch(mod, fn) -> None:
    if "_eurus_orig_forward" not in mod.__dict__:
        mod._eurus_orig_forward = mod.forward
    mod.forward = types.MethodType(fn, mod)


def unpatch_nf4_linears(model) -> int:
    """Restore the original forwards; returns how many modules were restored."""
    n = 0
    for mod in model.modules():
        if "_eurus_orig_forward" in mod.__dict__:
            del mod.forward, mod._eurus_orig_forward
            n += 1
    return n


def kernels_available() -> bool:
    """CUDA with Triton and bf16 tensor cores (sm80+)."""
    if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 0):
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def auto_policy(card: str) -> dict | None:
    """The committed per-regime choice for a card (as torch.cuda.get_device_name names it), or
    None when no GPU run measured it there; then bitsandbytes stays, and we say so once."""
    from .nf4_triton import CONFIG_FILE, card_entry
    entry = card_entry(card)
    if entry is None:
        if card not in _WARNED:
            _WARNED.add(card)
            warnings.warn(f"patch_nf4_linears: no measurement for {card!r} in {CONFIG_FILE.name}, so "
                          "bitsandbytes keeps every layer; run benchmarks/gpu_kernels_second_pass.py on "
                          "this card and add its result to use the kit's kernels", stacklevel=3)
        return None
    return dict(entry["use"])


def _model_card(layer) -> str | None:
    """The GPU name of a CUDA layer where our kernels can run, else None."""
    if layer.weight.device.type != "cuda" or not kernels_available():
        return None
    return torch.cuda.get_device_name(layer.weight.device)


def patch_nf4_linears(model, enable: bool | None = None) -> int:
    """Route the model's NF4 linear layers through our kernels; returns the number of 4-bit
    layers now served by them in some regime (0 when nothing was patched). enable=False restores
    the originals; True forces our path in every regime on any device (CPU uses the pure-torch
    reference); None follows nf4_configs.json for this card."""
    if enable is False:
        unpatch_nf4_linears(model)
        return 0
    targets = _targets(model)
    layers = [m for m, kind in targets if kind == "base"]
    if not layers:
        return 0
    if enable is None:
        card = _model_card(layers[0])
        policy = auto_policy(card) if card is not None else None
        if policy is None or set(policy.values()) == {"bnb"}:
            return 0
        POLICY.update(policy)
    else:
        POLICY.update(gemv="ours", small="ours", large="ours")
    for mod, kind in targets:
        _patch(mod, _lora_forward if kind == "lora" else _base_forward)
    return len(layers)
