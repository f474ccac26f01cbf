"""`nf4_linear`: y = x @ W.T (+ LoRA, + bias) for an NF4 weight, with its own backward.

The frozen weight never gets a gradient (QLoRA, arXiv 2305.14314 §3). With LoRA
(arXiv 2106.09685) the adapter rides along in the same autograd node:

    forward   y  = x W^T + xa B^T,        xa  = s * x A^T    [M, r]
    backward  dx = dy W  + dyb A,         dyb = s * dy B     [M, r]
              dA = dyb^T x,  dB = dy^T xa

Paths (issue 12). Training (M > 64 rows): W is decoded by one block-major pass
(`nf4_triton.nf4_dequantize`, bit-exact with bitsandbytes) and multiplied by cuBLAS, as unsloth
does; the same decoded W serves forward and input gradient when the step needs dx and the bytes
fit the save budget (EURUS_NF4_SAVE_MB, default 512 MiB: one Mistral-7B decoder layer's seven
linears). With gradient checkpointing that is the recomputed forward sharing its decode with
the backward right after it; a decode that is not kept goes into one reused buffer per device
(and dtype), so only one transient bf16 weight exists at a time. Decoding (M = 1) and small
batches (M = 2..64) run the GEMV and the small-M tensor-core kernel instead.

On the CPU the pure-torch reference takes the kernels' place. Adapters are kept in fp32 by peft;
they are used in x's dtype inside the step (as autocast would) and their gradients are returned
in fp32. Example (CPU, reference backend):

    .venv/bin/python -c "import torch; from eurus_lib.kernels import nf4_ref, nf4_linear; \
qw = nf4_ref.quantize_nf4(torch.randn(32, 64)); print(nf4_linear.nf4_linear(torch.randn(4, 64), qw).shape)"
"""

from __future__ import annotations

import os
import weakref

import torch

from . import nf4_ref
from .nf4_ref import NF4Weight

SMALL_M = 64
SAVE_BYTES = int(os.environ.get("EURUS_NF4_SAVE_MB", "512")) << 20
_SAVED = {"bytes": 0}
_WORKSPACE: dict = {}


def backend(x: torch.Tensor) -> str:
    """'triton' for CUDA tensors (and for CPU tensors when TRITON_INTERPRET=1 and
    EURUS_NF4_BACKEND=triton, which tests use); 'torch' otherwise."""
    if x.is_cuda:
        return os.environ.get("EURUS_NF4_BACKEND", "triton")
    if os.environ.get("TRITON_INTERPRET") == "1" and os.environ.get("EURUS_NF4_BACKEND") == "triton":
        return "triton"
    return "torch"


def workspace(device: torch.device, dtype: torch.dtype, numel: int) -> torch.Tensor:
    """The reused decode buffer of this device and dtype, grown to the largest weight seen. Valid
    until the next decode on the same device: kernels and cuBLAS run in stream order."""
    buf = _WORKSPACE.get((device, dtype))
    if buf is None or buf.numel() < numel:
        _WORKSPACE.pop((device, dtype), None)  # free the smaller one before allocating
        buf = _WORKSPACE[(device, dtype)] = torch.empty(numel, device=device, dtype=dtype)
    return buf


def _release(nbytes: int) -> None:
    _SAVED["bytes"] -= nbytes


def _reserve(nbytes: int) -> bool:
    """Count nbytes of decoded weight against the save budget, if they fit."""
    if _SAVED["bytes"] + nbytes > SAVE_BYTES:
        return False
    _SAVED["bytes"] += nbytes
    return True


def dequantize(qw: NF4Weight, dtype: torch.dtype, like: torch.Tensor, keep: bool = False) -> torch.Tensor:
    """W [N, K] in dtype. keep=True: a fresh tensor counted against the save budget until freed;
    keep=False: the device's reused buffer (or, on the torch backend, a temporary)."""
    if backend(like) == "torch":
        w = nf4_ref.dequantize_nf4(qw, dtype)
    else:
        from . import nf4_triton as T
        out = None if keep else workspace(like.device, dtype, qw.shape[0] * qw.shape[1])
        w = T.nf4_dequantize(qw, dtype, out=out)
    if keep:
        weakref.finalize(w, _release, w.numel() * w.element_size())
    return w


def _kernel_forward(x2, qw, bias):
    from . import nf4_triton as T
    if x2.shape[0] == 1:
        y = T.nf4_gemv(x2, qw)
        return y if bias is None else y.add_(bias)
    return T.nf4_matmul_small(x2, qw, bias)


def _forward(x2, qw, bias, path, keep_w):
    """(y, W kept for the backward or None)."""
    if path == "auto" and x2.shape[0] <= SMALL_M and x2.dtype in (torch.bfloat16, torch.float16):
        if backend(x2) == "torch":
            return nf4_ref.nf4_linear_ref(x2, qw, bias), None
        return _kernel_forward(x2, qw, bias), None
    keep = keep_w and _reserve(qw.shape[0] * qw.shape[1] * x2.element_size())
    w = dequantize(qw, x2.dtype, x2, keep)
    return torch.nn.functional.linear(x2, w, bias), (w if keep else None)


class _NF4Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, lora_a, lora_b, bias, qw, scaling, path, keep_w):
        a16 = lora_a.to(x2.dtype) if lora_a is not None else None
        b16 = lora_b.to(x2.dtype) if lora_b is not None else None
        xa = (x2 @ a16.t()).mul_(scaling) if a16 is not None else None
        y, w = _forward(x2, qw, bias.to(x2.dtype) if bias is not None else None, path, keep_w)
        if xa is not None:
            y = y.addmm_(xa, b16.t())
        ctx.qw, ctx.scaling = qw, scaling
        # W goes through save_for_backward, so gradient checkpointing's hooks drop it in the
        # first forward and keep it from the recomputation to the backward.
        ctx.save_for_backward(x2 if lora_a is not None and lora_a.requires_grad else None, xa, lora_a, lora_b, w)
        return y

    @staticmethod
    def backward(ctx, dy):
        x2, xa, lora_a, lora_b, w = ctx.saved_tensors
        dy = dy.contiguous()
        need_x, need_a, need_b, need_bias = ctx.needs_input_grad[:4]
        dyb = (dy @ lora_b.to(dy.dtype)).mul_(ctx.scaling) if lora_b is not None else None
        dx = da = db = dbias = None
        if need_x:
            w = w if w is not None else dequantize(ctx.qw, dy.dtype, dy)
            dx = dy @ w
            if dyb is not None:
                dx = dx.addmm_(dyb, lora_a.to(dy.dtype))
        if need_a:
            da = (dyb.t() @ x2).to(lora_a.dtype)
        if need_b:
            db = (dy.t() @ xa).to(lora_b.dtype)
        if need_bias:
            dbias = dy.sum(0)
        return dx, da, db, dbias, None, None, None, None


def nf4_linear(x: torch.Tensor, qw: NF4Weight, lora_a: torch.Tensor | None = None,
               lora_b: torch.Tensor | None = None, scaling: float = 1.0,
               bias: torch.Tensor | None = None, path: str = "auto") -> torch.Tensor:
    """x [..., K] @ W.T + scaling * x @ lora_a.T @ lora_b.T + bias -> [..., N], differentiable in
    x, lora_a [r, K], lora_b [N, r] and bias; W [N, K] is the frozen NF4 weight.
    path="auto": the M=1 / small-M kernels up to 64 rows, decode + cuBLAS above;
    path="dequant": decode + cuBLAS at every M."""
    if path not in ("auto", "dequant"):
        raise ValueError(f"nf4_linear path must be 'auto' or 'dequant', got {path!r}")
    n, k = qw.shape
    x2 = x.reshape(-1, k)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    keep_w = torch.is_grad_enabled() and x.requires_grad
    y = _NF4Linear.apply(x2, lora_a, lora_b, bias, qw, float(scaling), path, keep_w)
    return y.view(*x.shape[:-1], n)
