"""NF4 (QLoRA 4-bit) kernels that read bitsandbytes' storage directly.

The QLoRA models of the course (SFT, DPO/KTO/NCA, the reward model) are loaded in 4-bit with
bitsandbytes. For training (many rows) the kit decodes each weight with one block-major pass,
bit-exact with bitsandbytes, and multiplies with cuBLAS, the LoRA adapter in the same autograd
node; for decoding (one row) and small batches (2-64 rows) Triton kernels decode the 4-bit
codes in registers next to the multiply.

Public interface:

    patch_nf4_linears(model, enable=None) -> int
        Route a bitsandbytes/peft model's NF4 linear layers (and their LoRA adapters) through the
        kit. None: per M regime as nf4_configs.json says for this card (bitsandbytes where it
        has no entry); True: force (CPU uses the pure-torch reference); False: restore.
    unpatch_nf4_linears(model) -> int
    nf4_linear(x, qw, lora_a=None, lora_b=None, scaling=1.0, bias=None, path="auto")
        Differentiable y = x W^T + scaling * x A^T B^T + bias for an NF4Weight qw.

    nf4_ref      pure-torch oracle and CPU fallback, bit-exact with bitsandbytes' storage:
                 quantize_nf4(w, blocksize=64, double_quant=True) -> NF4Weight,
                 dequantize_nf4(qw, dtype=None), nf4_linear_ref(x, qw, bias), from_bnb(param).
    nf4_triton   launchers: nf4_dequantize, nf4_gemv (M=1), nf4_matmul_small (M=2..64), configs
                 from nf4_configs.json, launch_specs() (every config the kit can launch).
                 Kernel code lives in _nf4_triton.py.
    static_check compiles every launch spec for sm_90 on the CPU and reads the SASS.

Tests: `.venv/bin/python -m pytest tests/test_kernels_*.py` (CPU: reference vs bitsandbytes'
CPU ops, kernels under TRITON_INTERPRET=1, the sm_90 static check, the model patch; GPU tests
run where CUDA is). GPU benchmarks: `benchmarks/gpu_kernels_second_pass.py` (see the README).
"""

from . import nf4_ref
from .nf4_linear import nf4_linear
from .nf4_ref import NF4Weight, dequantize_nf4, quantize_nf4
from .patch import kernels_available, patch_nf4_linears, unpatch_nf4_linears

__all__ = ["NF4Weight", "dequantize_nf4", "kernels_available", "nf4_linear", "nf4_ref",
           "patch_nf4_linears", "quantize_nf4", "unpatch_nf4_linears"]
