"""Decide, on the card at hand, in which M regimes the NF4 kernels beat bitsandbytes.

Used by `patch_nf4_linears(model)` in auto mode. For one layer of the model it checks our output
against bitsandbytes' (relative error < 2e-2, bf16 territory) and times both with CUDA events
(triton's do_bench, median): decode M=1 and M=16 forward under no_grad, training M=2048
forward + input gradient. The verdicts and times land in LAST_PROBE for logs and benchmarks.
"""

from __future__ import annotations

import torch

from . import nf4_ref
from .nf4_linear import nf4_linear

LAST_PROBE: dict = {}
REGIMES = (("gemv", 1), ("small", 16), ("large", 2048))


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-12)).item()


def _race(layer, qw, m: int, dtype) -> dict:
    from triton.testing import do_bench
    k = qw.shape[1]
    x = torch.randn(m, k, device=layer.weight.device, dtype=dtype)
    if m > 16:
        x.requires_grad_(True)
        g = torch.randn(m, qw.shape[0], device=x.device, dtype=dtype)
        ours = lambda: nf4_linear(x, qw).backward(g)  # noqa: E731
        theirs = lambda: layer(x).backward(g)  # noqa: E731
    else:
        ours = torch.no_grad()(lambda: nf4_linear(x, qw))
        theirs = torch.no_grad()(lambda: layer(x))
    with torch.no_grad():
        err = _rel_err(nf4_linear(x, qw), layer(x))
    t_ours = do_bench(ours, warmup=5, rep=20, return_mode="median")
    t_theirs = do_bench(theirs, warmup=5, rep=20, return_mode="median")
    return {"m": m, "rel_err": err, "ours_ms": t_ours, "bnb_ms": t_theirs,
            "use": err < 2e-2 and t_ours < t_theirs}


def probe_policy(layer) -> dict:
    """{'gemv': bool, 'small': bool, 'large': bool} for a bitsandbytes NF4 Linear4bit on CUDA."""
    qw = nf4_ref.from_bnb(layer.weight)
    dtype = layer.compute_dtype if layer.compute_dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
    LAST_PROBE.clear()
    for regime, m in REGIMES:
        try:
            LAST_PROBE[regime] = _race(layer, qw, m, dtype)
        except Exception as exc:  # a kernel that fails to build or run on this card stays off
            LAST_PROBE[regime] = {"m": m, "error": repr(exc)[:300], "use": False}
    return {regime: r["use"] for regime, r in LAST_PROBE.items()}
