"""The NF4 Triton kernels against the pure-torch reference, on small and awkward shapes.

They run compiled on a GPU, or on the CPU under Triton's interpreter. The interpreter has to be
switched on before Triton is imported, so without a GPU `test_kernels_pass_under_the_interpreter`
re-runs this file in a fresh process with TRITON_INTERPRET=1 (about a minute on 2 cores).
"""

import os
import subprocess
import sys

import pytest
import torch

from eurus_lib.kernels import nf4_ref

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
CUDA = torch.cuda.is_available()
DEV = "cuda" if CUDA and not INTERPRET else "cpu"
runs_kernels = pytest.mark.skipif(not (INTERPRET or CUDA), reason="needs a GPU or TRITON_INTERPRET=1 "
                                  "(test_kernels_pass_under_the_interpreter sets it)")


def _case(m, n, k, double_quant=True, blocksize=64, seed=0, dtype=torch.bfloat16):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, k, generator=g) * 0.05
    qw = nf4_ref.quantize_nf4(w.to(dtype), blocksize, double_quant).to(DEV)
    x = torch.randn(m, k, generator=g).to(DEV, dtype)
    return qw, x


def _rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _w(qw, dtype=torch.bfloat16):
    """bitsandbytes semantics: the weight rounded once to x's dtype, products summed in fp32."""
    return nf4_ref.dequantize_nf4(qw, dtype).float()


@runs_kernels
@pytest.mark.parametrize("n,k,double_quant,blocksize,dtype", [
    (40, 320, True, 64, torch.bfloat16),
    (70, 192, False, 64, torch.float16),   # odd rows, plain fp32 absmax
    (24, 256, True, 128, torch.bfloat16),  # another blocksize
])
def test_dequantize_is_bit_exact_with_the_reference(n, k, double_quant, blocksize, dtype):
    from eurus_lib.kernels import nf4_triton as T
    qw, _ = _case(1, n, k, double_quant, blocksize, dtype=dtype)
    assert torch.equal(T.nf4_dequantize(qw, dtype), nf4_ref.dequantize_nf4(qw, dtype))


@runs_kernels
def test_dequantize_over_several_programs_into_a_reused_buffer():
    """More blocks than one program holds (the last program partly masked), written into a buffer
    larger than the weight, as the per-device workspace is."""
    from eurus_lib.kernels import nf4_triton as T
    qw, _ = _case(1, 33, 448, seed=2)
    buf = torch.full((33 * 448 + 100,), float("nan"), device=DEV, dtype=torch.bfloat16)
    got = T.nf4_dequantize(qw, out=buf, cfg=T.Cfg(nb=64, warps=4))
    assert got.data_ptr() == buf.data_ptr() and got.shape == (33, 448)
    assert torch.equal(got, nf4_ref.dequantize_nf4(qw, torch.bfloat16))
    assert torch.isnan(buf[33 * 448:]).all()  # nothing written past the weight


@runs_kernels
@pytest.mark.parametrize("m,n,k,double_quant,dtype", [
    (1, 96, 256, True, torch.bfloat16),
    (1, 70, 192, False, torch.float16),
    (3, 40, 512, True, torch.bfloat16),   # several rows; few programs, so K is split
])
def test_gemv_matches_reference(m, n, k, double_quant, dtype):
    from eurus_lib.kernels import nf4_triton as T
    qw, x = _case(m, n, k, double_quant, dtype=dtype)
    if m == 3:
        assert T._split(-(-n // 8), k // 64, 2, 2 * T._sm_count(x.device))[0] > 1
    y = T.nf4_gemv(x, qw, cfg=T.Cfg(bn=8, kb=2))
    assert y.shape == (m, n) and y.dtype == dtype
    assert _rel(y, x.float() @ _w(qw, dtype).t()) < 1e-2


@runs_kernels
@pytest.mark.parametrize("m,n,k,double_quant,blocksize,dtype", [
    (2, 70, 384, True, 64, torch.bfloat16),    # N not a tile multiple; two programs, so K is split
    (17, 136, 256, False, 64, torch.float16),  # M over one 16-row tile, plain absmax
    (40, 64, 256, True, 128, torch.bfloat16),  # another blocksize
])
def test_small_m_matmul_with_bias_matches_reference(m, n, k, double_quant, blocksize, dtype):
    from eurus_lib.kernels import nf4_triton as T
    qw, x = _case(m, n, k, double_quant, blocksize, dtype=dtype)
    bias = torch.randn(n).to(DEV, dtype)
    if m == 2:
        assert T._split(2, k // 64, 1, T._sm_count(x.device))[0] > 1
    y = T.nf4_matmul_small(x, qw, bias, cfg=T.Cfg(bm=16, bn=64, warps=4))
    assert y.shape == (m, n) and not torch.isnan(y).any()
    assert _rel(y, x.float() @ _w(qw, dtype).t() + bias.float()) < 1e-2


@runs_kernels
@pytest.mark.parametrize("m", [1, 6, 80])  # the GEMV, the small-M kernel, decode + matmul
def test_nf4_linear_autograd_runs_the_kernels_and_matches_the_torch_backend(monkeypatch, m):
    from eurus_lib.kernels.nf4_linear import nf4_linear
    qw, x = _case(m, 40, 128)
    r = 8
    a = torch.randn(r, 128, device=DEV) * 0.1
    b = torch.randn(40, r, device=DEV) * 0.1

    def run(backend):
        monkeypatch.setenv("EURUS_NF4_BACKEND", backend)
        xs, as_, bs = (t.detach().clone().requires_grad_(True) for t in (x, a, b))
        y = nf4_linear(xs.view(1, m, 128), qw, as_, bs, scaling=2.0)
        y.float().square().sum().backward()
        return y, xs.grad, as_.grad, bs.grad

    ref = run("torch")
    got = run("triton")
    assert got[0].shape == (1, m, 40)
    for g, r_ in zip(got, ref, strict=True):
        assert _rel(g, r_) < 2e-2


@runs_kernels
def test_fp32_inputs_are_refused_by_the_kernels_and_take_the_decode_path_in_nf4_linear(monkeypatch):
    from eurus_lib.kernels import nf4_triton as T
    from eurus_lib.kernels.nf4_linear import nf4_linear
    qw, x = _case(2, 40, 128)
    with pytest.raises(ValueError, match="bf16 or fp16"):
        T.nf4_gemv(x.float(), qw)
    monkeypatch.setenv("EURUS_NF4_BACKEND", "triton")
    y = nf4_linear(x.float(), qw)
    assert y.dtype == torch.float32 and _rel(y, x.float() @ _w(qw, torch.float32).t()) < 1e-5


@pytest.mark.skipif(INTERPRET or CUDA, reason="kernels already run directly in this process")
def test_kernels_pass_under_the_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "1 skipped" in summary  # only this test itself is skipped there
