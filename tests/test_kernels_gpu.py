"""GPU checks of the NF4 kernels against bitsandbytes' own dequantize + cuBLAS matmul.

Real bitsandbytes storage (quantized on the GPU by bitsandbytes), Mistral-7B / Llama shapes and
odd ones, with and without double quantization: the decode bit for bit against dequantize_4bit,
the M=1 and small-M kernels and every committed launch config against dequantize + matmul, a
LoRA layer's training step; then a small peft model patched and unpatched. Skipped without CUDA. Run: `python -m pytest -m gpu tests/test_kernels_gpu.py`.
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
def test_dequantize_is_bit_exact_with_bitsandbytes(k, n, double_quant):
    """The GPU decode equals bitsandbytes' dequantize_4bit bit for bit (launched without FMA
    contraction, so the nested absmax is rounded after its multiply and after its add)."""
    from eurus_lib.kernels import nf4_triton as T
    packed, qs, w = _bnb_weight(k, n, double_quant)
    _poison(n, k)
    assert torch.equal(T.nf4_dequantize(_qw(packed, qs)), w)


@pytest.mark.parametrize("k,n,double_quant", [(k, n, True) for k, n in SHAPES] + [(4096, 1024, False),
                                                                                   (4160, 1000, False)])
def test_decode_and_small_m_kernels_match_bitsandbytes(k, n, double_quant):
    from eurus_lib.kernels import nf4_triton as T
    packed, qs, w = _bnb_weight(k, n, double_quant)
    qw = _qw(packed, qs)
    for m in (1, 2, 16, 33, 64):
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        _poison(m, n)
        assert _rel(T.nf4_matmul_small(x, qw), x @ w.t()) < 1e-2, m
        if m <= 2:
            _poison(m, n)
            assert _rel(T.nf4_gemv(x, qw), x @ w.t()) < 1e-2, m


@pytest.mark.parametrize("kind", ["gemv", "small"])
def test_every_committed_config_is_correct(kind):
    """Each config in nf4_configs.json (defaults and per card) may be launched, so each must be right."""
    from eurus_lib.kernels import nf4_triton as T
    packed, qs, w = _bnb_weight(2048, 3072, True, seed=2)
    qw = _qw(packed, qs)
    for _, table in T._config_tables():
        for row in table[kind]:
            c = T._cfg(row)
            m = 1 if kind == "gemv" else c.bm
            x = torch.randn(m, 2048, device="cuda", dtype=torch.bfloat16)
            _poison(m, 3072)
            y = T.nf4_gemv(x, qw, cfg=c) if kind == "gemv" else T.nf4_matmul_small(x, qw, cfg=c)
            assert _rel(y, x @ w.t()) < 1e-2, c


def test_training_step_of_a_lora_layer_matches_bitsandbytes_plus_lora():
    from eurus_lib.kernels.nf4_linear import nf4_linear
    packed, qs, w = _bnb_weight(4096, 14336, True, seed=1)
    qw = _qw(packed, qs)
    x = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    a = (torch.randn(16, 4096, device="cuda") * 0.02).requires_grad_(True)
    b = (torch.randn(14336, 16, device="cuda") * 0.02).requires_grad_(True)
    dy = torch.randn(4096, 14336, device="cuda", dtype=torch.bfloat16)
    y = nf4_linear(x, qw, a, b, 2.0)
    y.backward(dy)
    xa = (x.detach() @ a.detach().bfloat16().t()) * 2.0
    assert _rel(y, x.detach() @ w.t() + xa @ b.detach().bfloat16().t()) < 1e-2
    dyb = (dy @ b.detach().bfloat16()) * 2.0
    assert _rel(x.grad, dy @ w + dyb @ a.detach().bfloat16()) < 1e-2


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
    assert patch_nf4_linears(model) in (0, 2)  # auto mode: as nf4_configs.json says for this card
