"""`patch_nf4_linears` on a small bitsandbytes + peft model, on the CPU (reference backend)."""

import importlib
import warnings

import pytest
import torch

bnb = pytest.importorskip("bitsandbytes")
peft = pytest.importorskip("peft")

from eurus_lib.kernels import nf4_linear, patch_nf4_linears, unpatch_nf4_linears  # noqa: E402


def _nf4_linear(k, n, seed, bias=False):
    torch.manual_seed(seed)
    layer = bnb.nn.Linear4bit(k, n, bias=bias, compute_dtype=torch.bfloat16, quant_type="nf4")
    layer.weight = bnb.nn.Params4bit(torch.randn(n, k) * 0.05, requires_grad=False, quant_type="nf4",
                                     compress_statistics=True, module=layer)
    if bias:
        layer.bias = torch.nn.Parameter(torch.randn(n) * 0.1, requires_grad=False)
    return layer.to("cpu")


class TwoLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = _nf4_linear(128, 192, 0)
        self.down = _nf4_linear(192, 64, 1, bias=True)

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.up(x)))


def _lora_model():
    cfg = peft.LoraConfig(r=8, lora_alpha=16, target_modules=["up", "down"], lora_dropout=0.0)
    model = peft.get_peft_model(TwoLayer(), cfg)
    for name, p in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; make the adapter path visible
            torch.nn.init.normal_(p, std=0.1)
    return model.train()


def _step(model, x):
    x = x.detach().clone().requires_grad_(True)
    y = model(x)
    y.float().square().mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return y.detach(), x.grad, grads


def _rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def test_auto_mode_leaves_a_cpu_model_alone():
    model = _lora_model()
    assert patch_nf4_linears(model) == 0
    assert not any("_eurus_orig_forward" in m.__dict__ for m in model.modules())


def test_forced_patch_matches_bitsandbytes_and_peft_outputs_and_gradients():
    model = _lora_model()
    x = torch.randn(2, 5, 128)
    y0, dx0, g0 = _step(model, x)
    assert patch_nf4_linears(model, enable=True) == 2
    y1, dx1, g1 = _step(model, x)
    assert _rel(y1, y0) < 2e-2 and _rel(dx1, dx0) < 2e-2
    assert g0.keys() == g1.keys() and len(g0) == 4  # lora_A and lora_B of both layers
    for name in g0:
        assert g1[name].dtype == torch.float32 and _rel(g1[name], g0[name]) < 3e-2, name


def test_unpatch_restores_the_original_forwards():
    model = _lora_model()
    patch_nf4_linears(model, enable=True)
    assert unpatch_nf4_linears(model) == 4  # two LoRA wrappers and their two base layers
    assert patch_nf4_linears(model, enable=False) == 0
    assert not any("forward" in m.__dict__ for m in model.modules())


def test_disabled_adapter_falls_back_to_the_base_layer_only():
    model = _lora_model()
    x = torch.randn(3, 128, requires_grad=True)
    with model.disable_adapter():
        ref = model(x)
    patch_nf4_linears(model, enable=True)
    with model.disable_adapter():
        got = model(x)
    assert _rel(got, ref) < 2e-2


def test_bare_nf4_linear_is_patched_and_matches_bitsandbytes():
    layer = _nf4_linear(256, 96, 3, bias=True)
    x = torch.randn(4, 256, requires_grad=True)
    ref = layer(x)
    assert patch_nf4_linears(layer, enable=True) == 1
    got = layer(x)
    assert got.dtype == ref.dtype and _rel(got, ref) < 2e-2


def test_auto_mode_follows_the_committed_entry_of_a_measured_card(monkeypatch):
    """The committed H100 entry (first-pass measurements) keeps bitsandbytes for M <= 64 and
    uses our decode + cuBLAS path for training-sized M."""
    from eurus_lib.kernels import patch
    monkeypatch.setattr(patch, "_model_card", lambda layer: "NVIDIA H100 80GB HBM3")
    calls = []
    monkeypatch.setattr(patch, "nf4_linear", lambda *a, **k: calls.append(1) or nf4_linear(*a, **k))
    model = _lora_model()
    assert patch_nf4_linears(model) == 2
    assert patch.POLICY == {"gemv": "bnb", "small": "bnb", "large": "ours"}
    model(torch.randn(3, 128))
    assert calls == []  # 3 rows: bitsandbytes' own forward
    model(torch.randn(2, 40, 128))
    assert len(calls) == 2  # 80 rows: both layers through the kit


def test_auto_mode_keeps_bitsandbytes_on_an_unmeasured_card_and_says_so_once(monkeypatch):
    from eurus_lib.kernels import patch
    monkeypatch.setattr(patch, "_model_card", lambda layer: "Fake GPU 9000")
    model = _lora_model()
    with pytest.warns(UserWarning, match="no measurement for 'Fake GPU 9000'"):
        assert patch_nf4_linears(model) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert patch_nf4_linears(model) == 0
    assert not any("_eurus_orig_forward" in m.__dict__ for m in model.modules())


def _counting_decodes(monkeypatch):
    from eurus_lib.kernels import nf4_ref
    calls = []
    real = nf4_ref.dequantize_nf4
    monkeypatch.setattr(nf4_ref, "dequantize_nf4", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def _layer_inputs(m=80, k=128, n=64):
    from eurus_lib.kernels import nf4_ref
    torch.manual_seed(0)
    qw = nf4_ref.quantize_nf4(torch.randn(n, k) * 0.05)
    x = torch.randn(m, k, dtype=torch.bfloat16, requires_grad=True)
    return qw, x, (torch.randn(8, k) * 0.1).requires_grad_(True), (torch.randn(n, 8) * 0.1).requires_grad_(True)


def test_forward_and_input_gradient_share_one_decode(monkeypatch):
    L = importlib.import_module("eurus_lib.kernels.nf4_linear")  # the package exports the function
    calls = _counting_decodes(monkeypatch)
    qw, x, a, b = _layer_inputs()
    L.nf4_linear(x, qw, a, b, 2.0).float().sum().backward()
    assert len(calls) == 1
    assert L._SAVED["bytes"] == 0  # the kept weight was freed with the graph
    monkeypatch.setattr(L, "SAVE_BYTES", 0)  # no budget: the backward decodes again
    L.nf4_linear(x, qw, a, b, 2.0).float().sum().backward()
    assert len(calls) == 3


def test_checkpointing_shares_the_recomputed_decode_with_the_backward(monkeypatch):
    L = importlib.import_module("eurus_lib.kernels.nf4_linear")  # the package exports the function
    qw, x, a, b = _layer_inputs()
    L.nf4_linear(x, qw, a, b, 2.0).float().square().sum().backward()
    ref = [t.grad.clone() for t in (x, a, b)]
    for t in (x, a, b):
        t.grad = None
    calls = _counting_decodes(monkeypatch)
    y = torch.utils.checkpoint.checkpoint(lambda x: L.nf4_linear(x, qw, a, b, 2.0), x, use_reentrant=False)
    assert len(calls) == 1 and L._SAVED["bytes"] == 0  # checkpointing dropped the first decode
    y.float().square().sum().backward()
    assert len(calls) == 2  # one recomputed decode, shared by the recomputation and the backward
    for got, want in zip((x.grad, a.grad, b.grad), ref, strict=True):
        assert torch.equal(got, want)
