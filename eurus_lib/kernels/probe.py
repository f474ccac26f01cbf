"""Decide, on the card at hand, in which M regimes the NF4 kernels beat bitsandbytes.

Used by `patch_nf4_linears(model)` in auto mode. For one layer of the model it checks our output
against bitsandbytes' (relative error < 2e-2, bf16 territory) and times every path with CUDA
events (triton's do_bench, median): decode M=1 and M=16 forward under no_grad; training M=2048
forward + input gradient, where the one-pass decode + cuBLAS path competes too. The fastest
correct path wins each regime; verdicts and times land in LAST_PROBE for logs and benchmarks.
"""

from __future__ import annotations

import torch

from . import nf4_ref
from .nf4_linear import nf4_linear

LAST_PROBE: dict = {}
REGIMES = (("gemv", 1), ("small", 16), ("large", 2048))


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-12)).item()


def _candidates(layer, qw, m: int, dtype) -> tuple[dict, torch.Tensor]:
    """Callables per path for M rows (forward + input grad when training-sized), and an input."""
    x = torch.randn(m, qw.shape[1], device=layer.weight.device, dtype=dtype)
    if m <= 16:
        paths = {"fused": lambda: nf4_linear(x, qw), "bnb": lambda: layer(x)}
        return {p: torch.no_grad()(f) for p, f in paths.items()}, x
    x.requires_grad_(True)
    g = torch.randn(m, qw.shape[0], device=x.device, dtype=dtype)
    return {"fused": lambda: nf4_linear(x, qw).backward(g),
            "dequant": lambda: nf4_linear(x, qw, path="dequant").backward(g),
            "bnb": lambda: layer(x).backward(g)}, x


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
