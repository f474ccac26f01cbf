"""GPU checks of the NF4 kernels against bitsandbytes' own dequantize + cuBLAS matmul.

Real bitsandbytes storage (quantized on the GPU by bitsandbytes), Mistral-7B / Llama shapes and
odd ones, forward and input gradient, with and without double quantization; then a small peft
model patched and unpatched. Skipped without CUDA. Run: `python -m pytest -m gpu tests/test_kernels_gpu.py`.
"""

import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

# (K, N): Mistral-7B / Llama q,o (4096x4096), k,v (4096->1024), gate,up (4096->14336), down (14336->4096),
# then odd ones: K a multiple of 64 only, N not a multiple of any tile.
SHAPES = [(4096, 4096), (4096, 1024), (4096, 14336), (14336, 4096), (4160, 1000), (320, 72)]


def _bnb_weight(k, n, double_quant, seed=0):
    import bitsandbytes.functional as F
    g = torch.Generator(device="cuda").manual_seed(seed)
    w = torch.randn(n, k, device="cuda", generator=g, dtype=torch.bfloat16) * 0.02
    packed, qs = F.quantize_4bit(w, blocksize=64, compress_statistics=double_quant, quant_type="nf4")
    return packed, qs, F.dequantize_4bit(packed, qs)


def _qw(packed, qs):
    import bitsandbytes as bnb

    from eurus_lib.kernels import nf4_ref
    p = bnb.nn.Params4bit(packed, requires_grad=False, quant_state=qs, quant_type="nf4", bnb_quantized=True)
    return nf4_ref.from_bnb(p)


def _rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _poison(*shape):
    """Leave NaNs in the caching allocator's next block of this size, so a kernel that skips part
    of its output fails instead of inheriting a previous call's correct numbers."""
    t = torch.full(shape, float("nan"), device="cuda", dtype=torch.bfloat16)
    del t


@pytest.mark.parametrize("k,n,double_quant", [(k, n, True) for k, n in SHAPES] + [(4096, 1024, False),
                                                                                   (4160, 1000, False)])
def test_forward_and_input_grad_match_bitsandbytes(k, n, double_quant):
    from eurus_lib.kernels import nf4_triton as T
    packed, qs, w = _bnb_weight(k, n, double_quant)
    qw = _qw(packed, qs)
    for m in (1, 16, 77, 512):
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        ref = x @ w.t()
        assert _rel(T.nf4_matmul(x, qw), ref) < 1e-2, m
        if m == 1:
            assert _rel(T.nf4_gemv(x, qw), ref) < 1e-2
        dy = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
        assert _rel(T.nf4_matmul_t(dy, qw), dy @ w) < 1e-2, m


def test_training_shape_with_lora_epilogue_matches_bitsandbytes_plus_lora():
    from eurus_lib.kernels import nf4_triton as T
    packed, qs, w = _bnb_weight(4096, 14336, True, seed=1)
    qw = _qw(packed, qs)
    m, r = 4096, 16
    x = torch.randn(m, 4096, device="cuda", dtype=torch.bfloat16)
    a = torch.randn(r, 4096, device="cuda", dtype=torch.bfloat16) * 0.02
    b = torch.randn(14336, r, device="cuda", dtype=torch.bfloat16) * 0.02
    xa = (x @ a.t()) * 2.0
    assert _rel(T.nf4_matmul(x, qw, lora=(xa, b)), x @ w.t() + xa @ b.t()) < 1e-2
    dy = torch.randn(m, 14336, device="cuda", dtype=torch.bfloat16)
    dyb = (dy @ b) * 2.0
    assert _rel(T.nf4_matmul_t(dy, qw, lora=(dyb, a)), dy @ w + dyb @ a) < 1e-2


@pytest.mark.parametrize("name", ["gemv", "mm_small", "mm_large", "mm_t_small", "mm_t_large"])
def test_every_tuning_candidate_is_correct_with_and_without_lora(name):
    """The tuner may pick any candidate, so each one must be right, not only the first."""
    from eurus_lib.kernels import nf4_triton as T
    packed, qs, w = _bnb_weight(2048, 3072, True, seed=2)
    qw = _qw(packed, qs)
    m = {"gemv": 1, "mm_small": 16, "mm_t_small": 16}.get(name, 512)
    x = torch.randn(m, 2048, device="cuda", dtype=torch.bfloat16)
    dy = torch.randn(m, 3072, device="cuda", dtype=torch.bfloat16)
    a = torch.randn(16, 2048, device="cuda", dtype=torch.bfloat16) * 0.05
    b = torch.randn(3072, 16, device="cuda", dtype=torch.bfloat16) * 0.05
    xa, dyb = x @ a.t(), dy @ b
    if name == "gemv":
        for c, _ in T._gemv_cands(3072, 32, T._sm_count(x.device), False):
            _poison(m, 3072)
            assert _rel(T.nf4_gemv(x, qw, cfg=c), x @ w.t()) < 1e-2, c
    elif name.startswith("mm_t"):
        for c in T._mm_t_cands(m, False):
            _poison(m, 2048)
            assert _rel(T.nf4_matmul_t(dy, qw, cfg=c), dy @ w) < 1e-2, c
            _poison(m, 2048)
            assert _rel(T.nf4_matmul_t(dy, qw, lora=(dyb, a), cfg=c), dy @ w + dyb @ a) < 1e-2, c
    else:
        for c in T._mm_cands(m, False):
            _poison(m, 3072)
            assert _rel(T.nf4_matmul(x, qw, cfg=c), x @ w.t()) < 1e-2, c
            _poison(m, 3072)
            assert _rel(T.nf4_matmul(x, qw, lora=(xa, b), cfg=c), x @ w.t() + xa @ b.t()) < 1e-2, c


def test_patched_peft_model_matches_bitsandbytes_on_gpu():
    import bitsandbytes as bnb
    import peft

    from eurus_lib.kernels import patch_nf4_linears, unpatch_nf4_linears

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = bnb.nn.Linear4bit(1024, 2816, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")
            self.down = bnb.nn.Linear4bit(2816, 1024, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")

        def forward(self, x):
            return self.down(torch.nn.functional.silu(self.up(x)))

    torch.manual_seed(0)
    model = peft.get_peft_model(Block().cuda(), peft.LoraConfig(r=16, lora_alpha=32, target_modules=["up", "down"]))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    x = torch.randn(2, 300, 1024, device="cuda", dtype=torch.bfloat16)

    def step():
        xs = x.clone().requires_grad_(True)
        y = model(xs)
        y.float().square().mean().backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        model.zero_grad(set_to_none=True)
        return [y, xs.grad, *grads]

    ref = step()
    assert patch_nf4_linears(model, enable=True) == 2
    got = step()
    for g, r in zip(got, ref, strict=True):
        assert _rel(g, r) < 3e-2
    unpatch_nf4_linears(model)
    assert patch_nf4_linears(model) in (0, 2)  # auto mode: on only where the probe found it faster
