"""Launchers for the NF4 Triton kernels in `_nf4_triton.py`: tile configs by shape, split-K for
small grids, and a one-shot tuner on CUDA (set EURUS_NF4_TUNE=0 to take the first config).

    nf4_gemv(x, qw)                 x [M, K] -> x @ W.T, one program row per token (decode)
    nf4_matmul(x, qw, lora, bias)   x [M, K] -> x @ W.T (+ xa @ B.T) on tensor cores
    nf4_matmul_t(dy, qw, lora)      dy [M, N] -> dy @ W (+ dyb @ A), the input gradient
    nf4_dequantize(qw, dtype)       W in one pass (for the 'dequant' path of nf4_linear)

CUDA tensors run the compiled kernels; CPU tensors run the same kernels under Triton's
interpreter (slow: for tests on small shapes), which needs TRITON_INTERPRET=1. Example on a CPU:

    TRITON_INTERPRET=1 .venv/bin/python -c "import torch; from eurus_lib.kernels import nf4_ref, nf4_triton as T; \
qw = nf4_ref.quantize_nf4(torch.randn(64, 128)); print(T.nf4_matmul(torch.randn(8, 128), qw).shape)"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cache

import torch

from .nf4_ref import NF4Weight, nf4_code


def _kernels(device: torch.device):
    """The kernel module. CPU tensors need Triton's interpreter, which must be switched on before
    Triton is first imported (it swaps every @triton.jit function, the library's own included)."""
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError("NF4 Triton kernels got CPU tensors: run with TRITON_INTERPRET=1 set before "
                           "Python starts, or use eurus_lib.kernels.nf4_ref on the CPU")
    from . import _nf4_triton
    return _nf4_triton


@dataclass(frozen=True)
class Cfg:
    """One launch configuration. bn is the N tile (forward, GEMV) or the N step (input gradient);
    kb counts 64-value blocks per GEMV step (the tensor-core kernels step one block at a time);
    swap computes the transposed tile so the weight is the MMA's first operand."""

    bm: int = 16
    bn: int = 64
    kb: int = 1
    warps: int = 4
    stages: int = 3
    split: int = 1
    group: int = 8
    swap: bool = False


@cache
def _lut(device: torch.device) -> torch.Tensor:
    return nf4_code().to(device)


@cache
def _sm_count(device: torch.device) -> int:
    if device.type != "cuda":
        return 4  # keeps interpreter grids small
    return torch.cuda.get_device_properties(device).multi_processor_count


def _pow2_at_most(n: int, cap: int) -> int:
    p = 1
    while p * 2 <= min(n, cap):
        p *= 2
    return p


def _wargs(qw: NF4Weight, device: torch.device) -> tuple:
    """Pointer arguments shared by all kernels; unused double-quant slots get a harmless tensor."""
    if qw.double_quant:
        return qw.packed, qw.absmax, qw.absmax_scale, qw.absmax_code, qw.absmax_offset, _lut(device)
    return qw.packed, qw.absmax, qw.absmax, qw.absmax, qw.absmax, _lut(device)


def _check(qw: NF4Weight, k_in: int) -> None:
    n, k = qw.shape
    if k_in != k or k % qw.blocksize or qw.blocksize not in (32, 64, 128, 256):
        raise ValueError(f"NF4 kernels need K % blocksize == 0 and matching shapes; got W {qw.shape}, "
                         f"blocksize {qw.blocksize}, input K {k_in}: use nf4_ref.nf4_linear_ref instead")


def _with_split(cfg: Cfg, programs: int, nblk: int, sms: int) -> tuple[Cfg, int]:
    """Split K when the tile grid alone would leave SMs idle; returns (cfg, blocks per split)."""
    split = 1
    if programs < sms and nblk >= 4 * cfg.kb:
        split = min(-(-2 * sms // programs), nblk // (2 * cfg.kb))
    per = -(-nblk // split)
    per = -(-per // cfg.kb) * cfg.kb
    return replace(cfg, split=-(-nblk // per)), per


# ---------------------------------------------------------------- tuning
_TUNED: dict = {}


def _tuning_enabled(device: torch.device) -> bool:
    return (device.type == "cuda" and os.environ.get("EURUS_NF4_TUNE", "1") != "0"
            and not torch.cuda.is_current_stream_capturing())


def _pick(key, cands: list[Cfg], run, device) -> Cfg:
    """First candidate, or on CUDA the fastest one (timed once per key with triton's do_bench)."""
    if key in _TUNED:
        return _TUNED[key]
    if len(cands) == 1 or not _tuning_enabled(device):
        return cands[0]
    from triton.testing import do_bench
    best, best_ms = cands[0], float("inf")
    for c in cands:
        try:
            ms = do_bench(lambda c=c: run(c), warmup=3, rep=12, return_mode="median")
        except Exception:  # a config that does not fit this card (shared memory, registers)
            continue
        if ms < best_ms:
            best, best_ms = c, ms
    _TUNED[key] = best
    return best


# ---------------------------------------------------------------- GEMV (M = 1 per program row)
def _gemv_cands(n: int, nblk: int, sms: int, cpu: bool) -> list[tuple[Cfg, int]]:
    shapes = [(8, 4, 4)] if cpu else [(8, 8, 4), (4, 16, 4), (8, 16, 4), (16, 8, 8)]
    out = []
    for bn, kb, warps in shapes:
        c = Cfg(bm=1, bn=bn, kb=_pow2_at_most(nblk, kb), warps=warps, stages=1)
        out.append(_with_split(c, -(-n // bn), nblk, 2 * sms))
    return out


def nf4_gemv(x: torch.Tensor, qw: NF4Weight, cfg: Cfg | None = None) -> torch.Tensor:
    """x [M, K] @ W.T with one program row per token; best for M = 1 (token-by-token decoding)."""
    _check(qw, x.shape[-1])
    m, (n, k) = x.shape[0], qw.shape
    x = x.contiguous()
    nblk = k // qw.blocksize
    cands = _gemv_cands(n, nblk, _sm_count(x.device), x.device.type == "cpu")
    if cfg is not None:
        cands = [_with_split(cfg, -(-n // cfg.bn), nblk, 2 * _sm_count(x.device))]
    kern = _kernels(x.device).nf4_gemv_kernel
    y = torch.empty((m, n), device=x.device, dtype=x.dtype)

    def run(c_per):
        c, per = c_per
        out = y if c.split == 1 else torch.empty((c.split, m, n), device=x.device, dtype=torch.float32)
        kern[(-(-n // c.bn), m, c.split)](
            x, *_wargs(qw, x.device), out, n, k, x.stride(0), out.stride(-2), out.stride(0), per,
            QB=qw.blocksize, BN=c.bn, KB=c.kb, DQ=qw.double_quant, SPLIT=c.split, INTERP=x.device.type != "cuda",
            num_warps=c.warps, num_stages=c.stages)
        return y if c.split == 1 else y.copy_(out.sum(0))

    key = ("gemv", m, n, k, qw.blocksize, qw.double_quant, x.dtype)
    return run(_pick(key, cands, run, x.device))


# ---------------------------------------------------------------- tensor-core forward
# Software pipelining (stages > 1) turns the per-element code-table lookups into async copies
# through shared memory; stages=1 keeps them as plain cached loads. The tuner decides per card.
def _mm_cands(m: int, cpu: bool) -> list[Cfg]:
    if cpu:
        return [Cfg(bm=16 if m <= 16 else 32, bn=32, warps=4, stages=1, swap=m <= 16)]
    if m <= 64:
        bm = 16 if m <= 16 else (32 if m <= 32 else 64)
        return [Cfg(bm, 64, 1, 4, 4, swap=True), Cfg(bm, 64, 1, 4, 1, swap=True), Cfg(bm, 128, 1, 4, 3, swap=True),
                Cfg(bm, 64, 1, 4, 1)]
    return [Cfg(128, 128, 1, 8, 4), Cfg(128, 128, 1, 8, 1), Cfg(128, 128, 1, 8, 4, swap=True),
            Cfg(128, 128, 1, 8, 1, swap=True), Cfg(128, 256, 1, 8, 3), Cfg(256, 128, 1, 8, 3, swap=True)]


def _lora_args(lora, device):
    """(left, right, r, left row stride, right row stride, r padded to a power of two >= 16)."""
    if lora is None:
        dummy = torch.empty(1, device=device)
        return dummy, dummy, 0, 1, 1, 0
    left, right = lora
    r = left.shape[1]
    return left, right, r, left.stride(0), right.stride(0), max(16, 1 << (r - 1).bit_length())


def nf4_matmul(x: torch.Tensor, qw: NF4Weight, lora: tuple | None = None,
               bias: torch.Tensor | None = None, cfg: Cfg | None = None) -> torch.Tensor:
    """x [M, K] @ W.T (+ xa @ B.T + bias). lora = (xa [M, r] = scaling * x @ A.T, B [N, r]),
    both contiguous and in x's dtype; the LoRA product is added inside the kernel's epilogue."""
    _check(qw, x.shape[-1])
    m, (n, k) = x.shape[0], qw.shape
    x = x.contiguous()
    nblk = k // qw.blocksize
    cpu = x.device.type != "cuda"
    cands = [cfg] if cfg is not None else _mm_cands(m, cpu)
    kern = _kernels(x.device).nf4_mm_kernel
    y = torch.empty((m, n), device=x.device, dtype=x.dtype)
    xa, lb, r, s_xa, s_lb, rp = _lora_args(lora, x.device)
    b = bias if bias is not None else y

    def run(c):
        programs = -(-m // c.bm) * -(-n // c.bn)
        c, per = _with_split(c, programs, nblk, _sm_count(x.device)) if m <= 64 else (c, nblk)
        out = y if c.split == 1 else torch.empty((c.split, m, n), device=x.device, dtype=torch.float32)
        kern[(programs, c.split)](
            x, *_wargs(qw, x.device), out, xa, lb, b, m, n, k, r, x.stride(0), out.stride(-2),
            out.stride(0), s_xa, s_lb, per,
            QB=qw.blocksize, BM=c.bm, BN=c.bn, GROUP_M=c.group, DQ=qw.double_quant, SPLIT=c.split, RP=rp,
            HAS_BIAS=bias is not None, SWAP=c.swap, INTERP=cpu, num_warps=c.warps, num_stages=c.stages)
        return y if c.split == 1 else y.copy_(out.sum(0))

    key = ("mm", m if m <= 64 else _pow2_at_most(m, 1 << 30), n, k, qw.blocksize, qw.double_quant, x.dtype, rp)
    return run(_pick(key, cands, run, x.device))


# ---------------------------------------------------------------- tensor-core input gradient
def _mm_t_cands(m: int, cpu: bool) -> list[Cfg]:
    if cpu:
        return [Cfg(bm=16 if m <= 16 else 32, bn=32, warps=4, stages=1, swap=m > 16)]
    if m <= 64:
        bm = 16 if m <= 16 else (32 if m <= 32 else 64)
        return [Cfg(bm, 64, 1, 4, 3, swap=True), Cfg(bm, 64, 1, 4, 1, swap=True), Cfg(bm, 64, 1, 4, 3)]
    return [Cfg(128, 64, 1, 8, 3), Cfg(128, 64, 1, 8, 1), Cfg(128, 128, 1, 8, 3), Cfg(256, 64, 1, 8, 3, swap=True),
            Cfg(128, 64, 1, 4, 1, swap=True)]


def nf4_matmul_t(dy: torch.Tensor, qw: NF4Weight, lora: tuple | None = None,
                 cfg: Cfg | None = None) -> torch.Tensor:
    """dy [M, N] @ W (+ dyb @ A): the gradient of x @ W.T w.r.t. x. lora = (dyb [M, r] =
    scaling * dy @ B, A [r, K]), both contiguous and in dy's dtype."""
    n, k = qw.shape
    _check(qw, k)
    if dy.shape[-1] != n:
        raise ValueError(f"dy has {dy.shape[-1]} columns but W has {n} rows")
    m = dy.shape[0]
    dy = dy.contiguous()
    cpu = dy.device.type != "cuda"
    cands = [cfg] if cfg is not None else _mm_t_cands(m, cpu)
    kern = _kernels(dy.device).nf4_mm_t_kernel
    dx = torch.empty((m, k), device=dy.device, dtype=dy.dtype)
    dyb, la, r, s_dyb, s_la, rp = _lora_args(lora, dy.device)

    def run(c):
        kern[(-(-m // c.bm) * (k // qw.blocksize),)](
            dy, *_wargs(qw, dy.device), dx, dyb, la, m, n, k, r, dy.stride(0), dx.stride(0), s_dyb, s_la,
            QB=qw.blocksize, BM=c.bm, BN=c.bn, GROUP_M=c.group, DQ=qw.double_quant, RP=rp, SWAP=c.swap,
            INTERP=cpu, num_warps=c.warps, num_stages=c.stages)
        return dx

    key = ("mm_t", m if m <= 64 else _pow2_at_most(m, 1 << 30), n, k, qw.blocksize, qw.double_quant, dy.dtype, rp)
    return run(_pick(key, cands, run, dy.device))


# ---------------------------------------------------------------- plain dequantization
def nf4_dequantize(qw: NF4Weight, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """W [N, K] in `dtype`, decoded in one pass (codes, nested absmax and offset fused)."""
    n, k = qw.shape
    _check(qw, k)
    device = qw.packed.device
    out = torch.empty((n, k), device=device, dtype=dtype)
    bn = 64
    _kernels(device).nf4_dequant_kernel[(-(-n // bn), k // qw.blocksize)](
        *_wargs(qw, device), out, n, k, QB=qw.blocksize, BN=bn, DQ=qw.double_quant,
        INTERP=device.type != "cuda", num_warps=4)
    return out
