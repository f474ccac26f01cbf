"""Decide, on the card at hand, in which M regimes the NF4 kernels beat bitsandbytes.

Used by `patch_nf4_linears(model)` in auto mode. For one layer of the model it checks our output
against bitsandbytes' (relative error < 2e-2, bf16 territory) and times every path with CUDA
events (triton's do_bench, median): decode M=1 and M=16 forward under no_grad; training M=2048
forward + backward of the layer with a rank-16 LoRA adapter (ours fused into the matmuls, against
bitsandbytes + peft's own adapter path), where the one-pass decode + cuBLAS path competes too.
The fastest correct path wins each regime; verdicts and times land in LAST_PROBE.
"""

from __future__ import annotations

import torch

from . import nf4_ref
from .nf4_linear import nf4_linear

LAST_PROBE: dict = {}
REGIMES = (("gemv", 1), ("small", 16), ("large", 2048))


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-12)).item()


def _peft_style_lora(layer, x, a, b, scaling):
    """What peft does around a bitsandbytes 4-bit layer: the base output, plus the adapter run in
    its fp32 weights' dtype (peft/tuners/lora/bnb.py Linear4bit.forward), cast back and added."""
    out = layer(x).clone()
    lora = torch.nn.functional.linear(torch.nn.functional.linear(x.to(a.dtype), a), b) * scaling
    return out + lora.to(out.dtype)


def _candidates(layer, qw, m: int, dtype, r: int = 16) -> tuple[dict, torch.Tensor]:
    """Callables per path for M rows, and an input. Decode sizes time the forward alone; the
    training size times forward + backward of a LoRA layer (rank r, fp32 adapters as peft keeps
    them), since the patch replaces peft's adapter path too, not only the weight product."""
    n, k = qw.shape
    x = torch.randn(m, k, device=layer.weight.device, dtype=dtype)
    if m <= 16:
        paths = {"fused": lambda: nf4_linear(x, qw), "bnb": lambda: layer(x)}
        return {p: torch.no_grad()(f) for p, f in paths.items()}, x
    x.requires_grad_(True)
    a = (torch.randn(r, k, device=x.device) / k**0.5).requires_grad_(True)
    b = (torch.randn(n, r, device=x.device) * 1e-3).requires_grad_(True)
    g = torch.randn(m, n, device=x.device, dtype=dtype)
    return {"fused": lambda: nf4_linear(x, qw, a, b, 2.0).backward(g),
            "dequant": lambda: nf4_linear(x, qw, a, b, 2.0, path="dequant").backward(g),
            "bnb": lambda: _peft_style_lora(layer, x, a, b, 2.0).backward(g)}, x


def _race(layer, qw, m: int, dtype) -> dict:
    from triton.testing import do_bench
    fns, x = _candidates(layer, qw, m, dtype)
    with torch.no_grad():
        ref = layer(x)
        errs = {"fused": _rel_err(nf4_linear(x, qw), ref)}
        if "dequant" in fns:
            errs["dequant"] = _rel_err(nf4_linear(x, qw, path="dequant"), ref)
    ms = {p: do_bench(f, warmup=5, rep=20, return_mode="median") for p, f in fns.items()}
    ok = [p for p in ms if p == "bnb" or errs[p] < 2e-2]
    return {"m": m, "rel_err": errs, "ms": ms, "use": min(ok, key=ms.__getitem__)}


def probe_policy(layer) -> dict:
    """{'gemv': path, 'small': path, 'large': path} for a bitsandbytes NF4 Linear4bit on CUDA,
    each path one of 'fused', 'dequant' (large only) or 'bnb'."""
    qw = nf4_ref.from_bnb(layer.weight)
    dtype = layer.compute_dtype if layer.compute_dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
    LAST_PROBE.clear()
    for regime, m in REGIMES:
        try:
            LAST_PROBE[regime] = _race(layer, qw, m, dtype)
        except Exception as exc:  # a kernel that fails to build or run on this card stays off
            LAST_PROBE[regime] = {"m": m, "error": repr(exc)[:300], "use": "bnb"}
    return {regime: r["use"] for regime, r in LAST_PROBE.items()}
