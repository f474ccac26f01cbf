"""Fused NF4 (QLoRA 4-bit) kernels that read bitsandbytes' storage directly.

The QLoRA models of the course (SFT, DPO/KTO/NCA, the reward model) are loaded in 4-bit with
bitsandbytes; its training path dequantizes every weight into a bf16 copy before each matmul.
These kernels decode the 4-bit codes tile by tile inside the matmul instead.

Public interface:

    patch_nf4_linears(model, enable=None) -> int
        Route a bitsandbytes/peft model's NF4 linear layers (and their LoRA adapters) through the
        kernels. None: on only on CUDA + Triton, per M regime where a probe finds it faster;
        True: force (CPU uses the pure-torch reference); False: restore. Returns layers patched.
    unpatch_nf4_linears(model) -> int
    nf4_linear(x, qw, lora_a=None, lora_b=None, scaling=1.0, bias=None, path="fused")
        Differentiable y = x W^T + scaling * x A^T B^T + bias for an NF4Weight qw; on CUDA
        path="fused" decodes W inside the matmuls, path="dequant" into a transient bf16 copy.

    nf4_ref      pure-torch oracle and CPU fallback, bit-exact with bitsandbytes' storage:
                 quantize_nf4(w, blocksize=64, double_quant=True) -> NF4Weight,
                 dequantize_nf4(qw, dtype=None), nf4_linear_ref(x, qw, bias), from_bnb(param).
    nf4_triton   kernel launchers: nf4_gemv (M=1 decode), nf4_matmul (x W^T, LoRA epilogue),
                 nf4_matmul_t (dy W, the input gradient, LoRA epilogue), nf4_dequantize.
                 Kernel code lives in _nf4_triton.py; tile configs are tuned once per shape.
    probe        the auto-mode race against bitsandbytes (LAST_PROBE holds its numbers).

Tests: `.venv/bin/python -m pytest tests/test_kernels_*.py` (CPU: reference vs bitsandbytes'
CPU ops, kernels under TRITON_INTERPRET=1, the model patch; GPU tests run where CUDA is).
Benchmarks and the GPU check: `benchmarks/gpu_kernels_check.py` (see the README's kernel table:
on an H100 the fused kernels are correct but slower than bitsandbytes; targets missed are listed).
"""

from . import nf4_ref
from .nf4_linear import nf4_linear
from .nf4_ref import NF4Weight, dequantize_nf4, quantize_nf4
from .patch import kernels_available, patch_nf4_linears, unpatch_nf4_linears

__all__ = ["NF4Weight", "dequantize_nf4", "kernels_available", "nf4_linear", "nf4_ref",
           "patch_nf4_linears", "quantize_nf4", "unpatch_nf4_linears"]
