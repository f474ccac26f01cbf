"""The pure-torch NF4 reference against bitsandbytes' own CPU ops (the oracle for the kernels)."""

import pytest
import torch

bnb = pytest.importorskip("bitsandbytes")
F = pytest.importorskip("bitsandbytes.functional")

from eurus_lib.kernels import nf4_ref  # noqa: E402

SHAPES = [(64, 256), (70, 192), (33, 130)]  # the last one ends in a short block


def _weight(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * 0.02).to(dtype)


def test_code_tables_equal_bitsandbytes():
    assert torch.equal(nf4_ref.nf4_code(), F.get_4bit_type("nf4", device="cpu"))
    assert torch.equal(nf4_ref.dynamic_code(), F.create_dynamic_map())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", SHAPES)
def test_quantize_packs_the_same_codes_and_absmax_as_bitsandbytes(shape, dtype):
    w = _weight(shape, dtype)
    packed, qs = F.quantize_4bit(w, blocksize=64, compress_statistics=False, quant_type="nf4")
    qw = nf4_ref.quantize_nf4(w, blocksize=64, double_quant=False)
    assert torch.equal(qw.packed, packed.reshape(-1))
    assert torch.equal(qw.absmax, qs.absmax)


@pytest.mark.parametrize("shape", [(256, 512), (70, 192)])
def test_double_quant_matches_bitsandbytes_up_to_its_binary_search(shape):
    w = _weight(shape, torch.bfloat16, seed=1)
    packed, qs = F.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
    qw = nf4_ref.quantize_nf4(w, blocksize=64, double_quant=True)
    assert torch.equal(qw.packed, packed.reshape(-1))
    assert torch.equal(qw.absmax_offset, qs.offset)
    assert torch.equal(qw.absmax_scale, qs.state2.absmax)
    # bitsandbytes' table-driven search may pick the neighbour level for values within ~1e-5 of a
    # midpoint (see nf4_ref._nearest_by_distance); everything else must agree exactly.
    diff = (qw.absmax.int() - qs.absmax.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 0.005


@pytest.mark.parametrize("double_quant", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", SHAPES)
def test_dequantize_of_bitsandbytes_storage_is_bit_exact(shape, dtype, double_quant):
    w = _weight(shape, dtype, seed=2)
    packed, qs = F.quantize_4bit(w, blocksize=64, compress_statistics=double_quant, quant_type="nf4")
    param = bnb.nn.Params4bit(packed, requires_grad=False, quant_state=qs, quant_type="nf4", bnb_quantized=True)
    qw = nf4_ref.from_bnb(param)
    assert qw.double_quant == double_quant
    assert torch.equal(nf4_ref.dequantize_nf4(qw), F.dequantize_4bit(packed, qs))


def test_from_bnb_reads_a_linear4bit_module_without_copying():
    layer = bnb.nn.Linear4bit(128, 64, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")
    layer.weight = bnb.nn.Params4bit(_weight((64, 128), torch.float32), requires_grad=False,
                                     quant_type="nf4", compress_statistics=True, module=layer)
    layer = layer.to("cpu")
    qw = nf4_ref.from_bnb(layer)
    assert qw.shape == (64, 128) and qw.double_quant
    assert qw.packed.data_ptr() == layer.weight.data.data_ptr()
    x = torch.randn(3, 128, requires_grad=True)
    assert torch.equal(layer(x), nf4_ref.nf4_linear_ref(x.bfloat16(), qw).float())


def test_roundtrip_error_is_what_nf4_promises():
    w = _weight((128, 512), torch.float32, seed=3)
    back = nf4_ref.dequantize_nf4(nf4_ref.quantize_nf4(w))
    rel = ((back - w).norm() / w.norm()).item()
    assert 0.05 < rel < 0.15  # 4-bit normal-float codes: about 10% relative error on Gaussian weights


def test_fp4_weights_are_refused_with_a_clear_message():
    w = _weight((16, 64), torch.float32)
    packed, qs = F.quantize_4bit(w, blocksize=64, quant_type="fp4")
    param = bnb.nn.Params4bit(packed, requires_grad=False, quant_state=qs, quant_type="fp4", bnb_quantized=True)
    with pytest.raises(ValueError, match="only NF4"):
        nf4_ref.from_bnb(param)
