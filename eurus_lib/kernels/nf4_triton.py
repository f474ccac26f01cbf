"""Launchers for the NF4 Triton kernels in `_nf4_triton.py`, with launch configs from the committed
`nf4_configs.json` (per card where a GPU run measured one, else the defaults). Nothing is timed
inside a real call, and a launch that fails raises.

    nf4_dequantize(qw, dtype, out)   W [N, K] in one pass, bit-exact with bitsandbytes' dequantize_4bit
    nf4_gemv(x, qw)                  x [M, K] -> x @ W.T, one program row per token (decode, M = 1)
    nf4_matmul_small(x, qw, bias)    x [M, K] -> x @ W.T (+ bias) on tensor cores, for M = 2..64
    launch_specs()                   every kernel config the kit can launch, for static_check

CUDA tensors run the compiled kernels; CPU tensors run the same kernels under Triton's
interpreter (slow: for tests on small shapes), which needs TRITON_INTERPRET=1. Example on a CPU:

    TRITON_INTERPRET=1 .venv/bin/python -c "import torch; from eurus_lib.kernels import nf4_ref, nf4_triton as T; \
qw = nf4_ref.quantize_nf4(torch.randn(64, 128)); print(T.nf4_matmul_small(torch.randn(8, 128).bfloat16(), qw).shape)"
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from .nf4_ref import NF4Weight, nf4_code

CONFIG_FILE = Path(__file__).with_name("nf4_configs.json")


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
    """One launch config. dequant: nb 64-value blocks per program. gemv: bn rows, kb blocks of K
    per step. small: bm x rows of x, bn weight rows per program."""

    bn: int = 0
    kb: int = 1
    bm: int = 1
    nb: int = 0
    warps: int = 4
    stages: int = 1


# ---------------------------------------------------------------- configs
@cache
def load_configs(path: str | None = None) -> dict:
    with open(path or CONFIG_FILE) as f:
        return json.load(f)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def card_entry(name: str, configs: dict | None = None) -> dict | None:
    """The committed entry for a card (as torch names it), or None when no run measured it."""
    return (configs or load_configs())["cards"].get(name)


def _table(kind: str, name: str) -> dict | list:
    cfg = load_configs()
    card = card_entry(name) or {}
    return card.get("configs", {}).get(kind, cfg["defaults"][kind])


def _cfg(row: dict) -> Cfg:
    return Cfg(**{k: v for k, v in row.items() if not k.startswith("max_")})


def dequant_cfg(name: str) -> Cfg:
    return _cfg(_table("dequant", name))


def gemv_cfg(n: int, name: str) -> Cfg:
    """The first row whose max_n covers N (the last row has none)."""
    return _cfg(next(r for r in _table("gemv", name) if n <= r.get("max_n", n)))


def small_cfg(m: int, name: str) -> Cfg:
    return _cfg(next(r for r in _table("small", name) if m <= r.get("max_m", m)))


# ---------------------------------------------------------------- helpers
@cache
def _lut(device: torch.device) -> torch.Tensor:
    return nf4_code().to(device)


@cache
def _sm_count(device: torch.device) -> int:
    if device.type != "cuda":
        return 4  # keeps interpreter grids small
    return torch.cuda.get_device_properties(device).multi_processor_count


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


def _aligned_rows(x: torch.Tensor) -> torch.Tensor:
    """x as contiguous rows starting on a 16-byte boundary: the kernels read x as int32 pairs, and
    the statically checked (and vectorised) variant is the one for aligned pointers."""
    if x.dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"the NF4 GEMV and small-M kernels take bf16 or fp16 inputs, got {x.dtype}; "
                         "cast x to the layer's compute dtype or use nf4_dequantize + matmul")
    x = x.contiguous()
    return x if x.data_ptr() % 16 == 0 else x.clone()


def _split(programs: int, nblk: int, kb: int, sms: int) -> tuple[int, int]:
    """(split, blocks per split): split K when the tile grid alone would leave SMs idle."""
    split = 1
    if programs < sms and nblk >= 4 * kb:
        split = min(-(-2 * sms // programs), nblk // (2 * kb))
    per = -(-nblk // split)
    per = -(-per // kb) * kb
    return -(-nblk // per), per


# ---------------------------------------------------------------- dequantize
def nf4_dequantize(qw: NF4Weight, dtype: torch.dtype = torch.bfloat16, out: torch.Tensor | None = None,
                   cfg: Cfg | None = None) -> torch.Tensor:
    """W [N, K] in `dtype`, decoded in one pass (codes, nested absmax and offset fused), equal bit
    for bit to bitsandbytes' dequantize_4bit. `out` (numel >= N*K, contiguous) is reused if given."""
    n, k = qw.shape
    _check(qw, k)
    device = qw.packed.device
    out = torch.empty(n * k, device=device, dtype=dtype) if out is None else out.view(-1)[: n * k]
    cfg = cfg or dequant_cfg(device_name(device))
    nblocks = n * k // qw.blocksize
    _kernels(device).nf4_dequant_kernel[(-(-nblocks // cfg.nb),)](
        *_wargs(qw, device), out, nblocks, QB=qw.blocksize, NB=cfg.nb, DQ=qw.double_quant,
        INTERP=device.type != "cuda", num_warps=cfg.warps, num_stages=cfg.stages, enable_fp_fusion=False)
    return out.view(n, k)


# ---------------------------------------------------------------- M = 1
def nf4_gemv(x: torch.Tensor, qw: NF4Weight, cfg: Cfg | None = None) -> torch.Tensor:
    """x [M, K] @ W.T with one program row per token; best for M = 1 (token-by-token decoding)."""
    _check(qw, x.shape[-1])
    m, (n, k) = x.shape[0], qw.shape
    x = _aligned_rows(x)
    cfg = cfg or gemv_cfg(n, device_name(x.device))
    nblk = k // qw.blocksize
    split, per = _split(-(-n // cfg.bn), nblk, cfg.kb, 2 * _sm_count(x.device))
    y = torch.empty((m, n), device=x.device, dtype=x.dtype)
    out = y if split == 1 else torch.empty((split, m, n), device=x.device, dtype=torch.float32)
    _kernels(x.device).nf4_gemv_kernel[(-(-n // cfg.bn), m, split)](
        x, *_wargs(qw, x.device), out, n, k, x.stride(0), out.stride(-2), out.stride(0), per,
        QB=qw.blocksize, BN=cfg.bn, KB=cfg.kb, DQ=qw.double_quant, SPLIT=split, INTERP=x.device.type != "cuda",
        num_warps=cfg.warps, num_stages=cfg.stages, enable_fp_fusion=True)
    return y if split == 1 else y.copy_(out.sum(0))


# ---------------------------------------------------------------- M = 2..64
def nf4_matmul_small(x: torch.Tensor, qw: NF4Weight, bias: torch.Tensor | None = None,
                     cfg: Cfg | None = None) -> torch.Tensor:
    """x [M, K] @ W.T (+ bias) on tensor cores, decoding W in registers; for M = 2..64."""
    _check(qw, x.shape[-1])
    m, (n, k) = x.shape[0], qw.shape
    x = _aligned_rows(x)
    cfg = cfg or small_cfg(m, device_name(x.device))
    nblk = k // qw.blocksize
    grid_nm = -(-n // cfg.bn) * -(-m // cfg.bm)
    split, per = _split(grid_nm, nblk, 1, _sm_count(x.device))
    y = torch.empty((m, n), device=x.device, dtype=x.dtype)
    out = y if split == 1 else torch.empty((split, m, n), device=x.device, dtype=torch.float32)
    _kernels(x.device).nf4_mm_small_kernel[(-(-n // cfg.bn), -(-m // cfg.bm), split)](
        x, *_wargs(qw, x.device), out, m, n, k, x.stride(0), out.stride(-2), out.stride(0), per,
        QB=qw.blocksize, BM=cfg.bm, BN=cfg.bn, DQ=qw.double_quant, SPLIT=split, INTERP=x.device.type != "cuda",
        num_warps=cfg.warps, num_stages=cfg.stages, enable_fp_fusion=True)
    if split > 1:
        y.copy_(out.sum(0))
    return y if bias is None else y.add_(bias)


# ---------------------------------------------------------------- static checks
# A representative launch: Mistral-7B's gate/up projection (N=14336, K=4096). The ints only decide
# the 16-divisibility hints the JIT attaches at launch; every real 7B shape has the same hints.
_N, _K = 14336, 4096
_W_PTRS = {"w_ptr": "*u8", "scale_ptr": "*fp32", "code2_ptr": "*fp32", "offset_ptr": "*fp32", "lut_ptr": "*fp32"}


def _config_tables() -> list[tuple[str, dict]]:
    cfg = load_configs()
    tables = [("default", cfg["defaults"])]
    tables += [(name, {**cfg["defaults"], **card["configs"]}) for name, card in cfg["cards"].items() if "configs" in card]
    return tables


def _specs_for(table: dict, dt: str, dq: bool, qb: int) -> list:
    from .static_check import KernelSpec
    ptrs = {**_W_PTRS, "absmax_ptr": "*u8" if dq else "*fp32"}
    tag = f"{'dq' if dq else 'fp32-absmax'} {dt} qb{qb}"
    d = _cfg(table["dequant"])
    specs = [KernelSpec(f"dequant nb{d.nb} w{d.warps} {tag}", "nf4_dequant_kernel",
                        {"QB": qb, "NB": d.nb, "DQ": dq, "INTERP": False}, {**ptrs, "out_ptr": f"*{dt}"},
                        {"n_blocks": _N * _K // qb}, d.nb * qb, d.warps, d.stages, {"enable_fp_fusion": False})]
    for split in (1, 2):  # SPLIT > 1 only changes the final store (fp32 partials); 2 stands for all
        y = f"*{dt}" if split == 1 else "*fp32"
        for row in table["gemv"]:
            c = _cfg(row)
            specs.append(KernelSpec(
                f"gemv bn{c.bn} kb{c.kb} w{c.warps} split{split} {tag}", "nf4_gemv_kernel",
                {"QB": qb, "BN": c.bn, "KB": c.kb, "DQ": dq, "SPLIT": split, "INTERP": False},
                {**ptrs, "x_ptr": f"*{dt}", "y_ptr": y},
                {"N": _N, "K": _K, "stride_xm": _K, "stride_ym": _N, "stride_ys": _N, "blocks_per_split": 64 // split},
                c.bn * c.kb * qb, c.warps, c.stages, {"enable_fp_fusion": True}))
        for row in table["small"]:
            c = _cfg(row)
            specs.append(KernelSpec(
                f"small bm{c.bm} bn{c.bn} w{c.warps} split{split} {tag}", "nf4_mm_small_kernel",
                {"QB": qb, "BM": c.bm, "BN": c.bn, "DQ": dq, "SPLIT": split, "INTERP": False},
                {**ptrs, "x_ptr": f"*{dt}", "y_ptr": y},
                {"M": c.bm, "N": _N, "K": _K, "stride_xm": _K, "stride_ym": _N, "stride_ys": _N * c.bm,
                 "blocks_per_split": 64 // split},
                c.bn * qb, c.warps, c.stages, {"enable_fp_fusion": True}))
    return specs


def launch_specs(dtypes=("bf16", "fp16"), double_quant=(True, False), blocksizes=(64,)) -> list:
    """A static_check.KernelSpec for every kernel config the kit can launch: each config of the
    defaults and of every card in nf4_configs.json, for bf16/fp16 activations, double-quantized or
    plain fp32 absmax, split-K or not, and the given blocksizes (64 is what bitsandbytes' 4-bit
    layers use). Specs that compile to the same kernel appear once."""
    seen, out = set(), []
    for _, table in _config_tables():
        for dt in dtypes:
            for dq in double_quant:
                for qb in blocksizes:
                    for s in _specs_for(table, dt, dq, qb):
                        key = (s.kernel, tuple(sorted(s.constexprs.items())), s.num_warps, s.num_stages,
                               tuple(sorted(s.ptrs.items())))
                        if key not in seen:
                            seen.add(key)
                            out.append(s)
    return out
