"""`nf4_linear`: y = x @ W.T (+ LoRA, + bias) for an NF4 weight, with its own backward.

Forward and input-gradient run the fused Triton kernels on CUDA and the pure-torch reference
elsewhere; the frozen weight never gets a gradient (QLoRA, arXiv 2305.14314 §3). With LoRA
(arXiv 2106.09685) the adapter product rides in the kernels' epilogue:

    forward   y  = x W^T + xa B^T,        xa  = s * x A^T    [M, r]
    backward  dx = dy W  + dyb A,         dyb = s * dy B     [M, r]
              dA = dyb^T x,  dB = dy^T xa

Adapters are kept in fp32 by peft; they are used in x's dtype inside the step (as autocast would)
and their gradients are returned in fp32. Example (CPU, reference backend):

    .venv/bin/python -c "import torch; from eurus_lib.kernels import nf4_ref, nf4_linear; \
qw = nf4_ref.quantize_nf4(torch.randn(32, 64)); print(nf4_linear.nf4_linear(torch.randn(4, 64), qw).shape)"
"""

from __future__ import annotations

import os

import torch

from . import nf4_ref
from .nf4_ref import NF4Weight


def backend(x: torch.Tensor) -> str:
    """'triton' for CUDA tensors (and for CPU tensors when TRITON_INTERPRET=1 and
    EURUS_NF4_BACKEND=triton, which tests use); 'torch' otherwise."""
    if x.is_cuda:
        return os.environ.get("EURUS_NF4_BACKEND", "triton")
    if os.environ.get("TRITON_INTERPRET") == "1" and os.environ.get("EURUS_NF4_BACKEND") == "triton":
        return "triton"
    return "torch"


def _forward(x2, qw, lora, bias, path):
    if backend(x2) == "torch":
        y = nf4_ref.nf4_linear_ref(x2, qw, bias)
    else:
        from . import nf4_triton as T
        if path == "dequant":
            y = torch.nn.functional.linear(x2, T.nf4_dequantize(qw, x2.dtype), bias)
        elif x2.shape[0] == 1:
            y = T.nf4_gemv(x2, qw)
            y = y if bias is None else y.add_(bias)
        else:
            return T.nf4_matmul(x2, qw, lora=lora, bias=bias)  # LoRA fused in the epilogue
    return y if lora is None else y.addmm_(lora[0], lora[1].t())


def _input_grad(dy, qw, lora, path):
    if backend(dy) == "torch":
        dx = dy @ nf4_ref.dequantize_nf4(qw, dy.dtype)
    else:
        from . import nf4_triton as T
        if path != "dequant":
            return T.nf4_matmul_t(dy, qw, lora=lora)  # LoRA fused in the epilogue
        dx = dy @ T.nf4_dequantize(qw, dy.dtype)
    return dx if lora is None else dx.addmm_(lora[0], lora[1])


class _NF4Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, lora_a, lora_b, bias, qw, scaling, path):
        a16 = lora_a.to(x2.dtype) if lora_a is not None else None
        b16 = lora_b.to(x2.dtype).contiguous() if lora_b is not None else None
        xa = (x2 @ a16.t()).mul_(scaling) if a16 is not None else None
        b = bias.to(x2.dtype) if bias is not None else None
        y = _forward(x2, qw, None if xa is None else (xa, b16), b, path)
        ctx.qw, ctx.scaling, ctx.path = qw, scaling, path
        ctx.save_for_backward(x2 if lora_a is not None and lora_a.requires_grad else None, xa, lora_a, lora_b)
        return y

    @staticmethod
    def backward(ctx, dy):
        x2, xa, lora_a, lora_b = ctx.saved_tensors
        dy = dy.contiguous()
        need_x, need_a, need_b, need_bias = ctx.needs_input_grad[:4]
        dyb = (dy @ lora_b.to(dy.dtype)).mul_(ctx.scaling) if lora_b is not None else None
        dx = da = db = dbias = None
        if need_x:
            lora = None if dyb is None else (dyb, lora_a.to(dy.dtype).contiguous())
            dx = _input_grad(dy, ctx.qw, lora, ctx.path)
        if need_a:
            da = (dyb.t() @ x2).to(lora_a.dtype)
        if need_b:
            db = (dy.t() @ xa).to(lora_b.dtype)
        if need_bias:
            dbias = dy.sum(0)
        return dx, da, db, dbias, None, None, None


def nf4_linear(x: torch.Tensor, qw: NF4Weight, lora_a: torch.Tensor | None = None,
               lora_b: torch.Tensor | None = None, scaling: float = 1.0,
               bias: torch.Tensor | None = None, path: str = "fused") -> torch.Tensor:
    """x [..., K] @ W.T + scaling * x @ lora_a.T @ lora_b.T + bias -> [..., N], differentiable in
    x, lora_a [r, K], lora_b [N, r] and bias; W [N, K] is the frozen NF4 weight. On CUDA,
    path="fused" decodes W inside the matmul kernels; path="dequant" decodes it once per call into
    a transient copy for cuBLAS (kept for cards where that is faster: see probe.py)."""
    n, k = qw.shape
    x2 = x.reshape(-1, k)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    y = _NF4Linear.apply(x2, lora_a, lora_b, bias, qw, float(scaling), path)
    return y.view(*x.shape[:-1], n)
