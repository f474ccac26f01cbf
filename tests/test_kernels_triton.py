"""The NF4 Triton kernels against the pure-torch reference, on small and awkward shapes.

They run compiled on a GPU, or on the CPU under Triton's interpreter. The interpreter has to be
switched on before Triton is imported, so without a GPU `test_kernels_pass_under_the_interpreter`
re-runs this file in a fresh process with TRITON_INTERPRET=1 (about half a minute on 2 cores).
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


def _case(m, n, k, double_quant=True, blocksize=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, k, generator=g) * 0.05
    qw = nf4_ref.quantize_nf4(w.to(torch.bfloat16), blocksize, double_quant).to(DEV)
    x = torch.randn(m, k, generator=g).to(DEV, torch.bfloat16)
    return qw, x


def _rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _w(qw):
    """bitsandbytes semantics: the weight rounded once to bf16, products summed in fp32."""
    return nf4_ref.dequantize_nf4(qw, torch.bfloat16).float()


@runs_kernels
@pytest.mark.parametrize("double_quant", [True, False])
@pytest.mark.parametrize("n,k", [(96, 256), (70, 192)])
def test_gemv_matches_reference(n, k, double_quant):
    from eurus_lib.kernels import nf4_triton as T
    qw, x = _case(1, n, k, double_quant)
    y = T.nf4_gemv(x, qw)
    assert y.shape == (1, n) and y.dtype == torch.bfloat16
    assert _rel(y, x.float() @ _w(qw).t()) < 1e-2


@runs_kernels
def test_gemv_split_k_and_several_rows_match_reference():
    from eurus_lib.kernels import nf4_triton as T
    qw, x = _case(3, 40, 512)
    y = T.nf4_gemv(x, qw, cfg=T.Cfg(bm=1, bn=8, kb=1, warps=4, stages=1))
    assert _rel(y, x.float() @ _w(qw).t()) < 1e-2


@runs_kernels
@pytest.mark.parametrize("m,n,k,double_quant,blocksize", [
    (3, 40, 192, True, 64),      # small M: split-K path, N not a tile multiple
    (37, 70, 320, False, 64),    # odd everything, plain fp32 absmax
    (20, 48, 256, True, 128),    # another blocksize
])
def test_matmul_with_lora_and_bias_matches_reference(m, n, k, double_quant, blocksize):
    from eurus_lib.kernels import nf4_triton as T
    qw, x = _case(m, n, k, double_quant, blocksize)
    r = 8
    a = (torch.randn(r, k) * 0.1).to(DEV, torch.bfloat16)
    b = (torch.randn(n, r) * 0.1).to(DEV, torch.bfloat16)
    bias = torch.randn(n).to(DEV, torch.bfloat16)
    xa = (x.float() @ a.float().t()).to(torch.bfloat16)
    y = T.nf4_matmul(x, qw, lora=(xa, b), bias=bias)
    ref = x.float() @ _w(qw).t() + xa.float() @ b.float().t() + bias.float()
    assert not torch.isnan(y).any() and _rel(y, ref) < 1e-2
    assert _rel(T.nf4_matmul(x, qw), x.float() @ _w(qw).t()) < 1e-2


@runs_kernels
@pytest.mark.parametrize("m,n,k,double_quant", [(5, 40, 192, True), (37, 70, 256, False)])
def test_input_gradient_with_lora_matches_reference(m, n, k, double_quant):
    from eurus_lib.kernels import nf4_triton as T
    qw, _ = _case(m, n, k, double_quant)
    dy = torch.randn(m, n).to(DEV, torch.bfloat16)
    r = 4
    a = (torch.randn(r, k) * 0.1).to(DEV, torch.bfloat16)
    dyb = (torch.randn(m, r) * 0.1).to(DEV, torch.bfloat16)
    dx = T.nf4_matmul_t(dy, qw, lora=(dyb, a))
    ref = dy.float() @ _w(qw) + dyb.float() @ a.float()
    assert dx.shape == (m, k) and _rel(dx, ref) < 1e-2


@runs_kernels
@pytest.mark.parametrize("swap", [True, False])
def test_both_tile_orientations_agree_with_reference(swap):
    """swap=True computes the transposed tile (weight as the MMA's first operand)."""
    from eurus_lib.kernels import nf4_triton as T
    qw, x = _case(24, 48, 128, seed=4)
    cfg = T.Cfg(bm=16, bn=32, warps=4, stages=1, swap=swap)
    assert _rel(T.nf4_matmul(x, qw, cfg=cfg), x.float() @ _w(qw).t()) < 1e-2
    dy = torch.randn(24, 48).to(DEV, torch.bfloat16)
    assert _rel(T.nf4_matmul_t(dy, qw, cfg=cfg), dy.float() @ _w(qw)) < 1e-2


@runs_kernels
@pytest.mark.parametrize("double_quant", [True, False])
def test_one_pass_dequantize_equals_reference(double_quant):
    from eurus_lib.kernels import nf4_triton as T
    qw, _ = _case(1, 40, 320, double_quant)
    got, ref = T.nf4_dequantize(qw), nf4_ref.dequantize_nf4(qw, torch.bfloat16)
    # The GPU may fuse the nested absmax's multiply-add into one FMA (one rounding instead of two),
    # which can move a value across a bf16 rounding boundary; the interpreter must match exactly.
    differ = (got != ref).float().mean().item()
    assert differ == 0 if DEV == "cpu" else differ < 1e-3
    assert _rel(got, ref) < 1e-3


@runs_kernels
@pytest.mark.parametrize("path", ["fused", "dequant"])
def test_nf4_linear_autograd_runs_the_kernels_and_matches_the_torch_backend(monkeypatch, path):
    from eurus_lib.kernels.nf4_linear import nf4_linear
    qw, x = _case(6, 40, 128)
    r = 8
    a = torch.randn(r, 128, device=DEV) * 0.1
    b = torch.randn(40, r, device=DEV) * 0.1

    def run(backend):
        monkeypatch.setenv("EURUS_NF4_BACKEND", backend)
        xs, as_, bs = (t.detach().clone().requires_grad_(True) for t in (x, a, b))
        y = nf4_linear(xs.view(2, 3, 128), qw, as_, bs, scaling=2.0, path=path)
        y.float().square().sum().backward()
        return y, xs.grad, as_.grad, bs.grad

    ref = run("torch")
    got = run("triton")
    assert got[0].shape == (2, 3, 40)
    for g, r_ in zip(got, ref, strict=True):
        assert _rel(g, r_) < 2e-2


@pytest.mark.skipif(INTERPRET or CUDA, reason="kernels already run directly in this process")
def test_kernels_pass_under_the_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "1 skipped" in summary  # only this test itself is skipped there
