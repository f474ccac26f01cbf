"""Pure-torch NF4 quantize / dequantize that reproduces bitsandbytes' storage bit for bit.

This is the oracle for the Triton kernels (tests compare against it) and the CPU fallback of
`patch_nf4_linears`. Storage follows bitsandbytes' `Params4bit` (QLoRA, arXiv 2305.14314 §3):

- the [N, K] weight is flattened row-major and cut into blocks of `blocksize` (64) values;
- each block keeps its absolute maximum; values are divided by it and rounded to the nearest of
  the 16 NF4 levels; two 4-bit codes share a byte, the even element in the high nibble;
- with double quantization the fp32 absmax vector is centred by its mean (`offset`) and stored
  as 8-bit codes of bitsandbytes' signed dynamic map, in blocks of 256 with one fp32 scale each.

Run the checks against bitsandbytes' own CPU ops: `.venv/bin/python -m pytest tests/test_kernels_ref.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import torch

# The 16 NF4 levels (normal quantiles, QLoRA Appendix E), as float32 exactly as bitsandbytes stores them.
NF4_LEVELS = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)
ABSMAX_BLOCKSIZE = 256  # bitsandbytes quantize_4bit always double-quantizes absmax in blocks of 256


@cache
def nf4_code() -> torch.Tensor:
    """The 16 NF4 levels as a float32 CPU tensor, sorted (code i decodes to level i)."""
    return torch.tensor(NF4_LEVELS, dtype=torch.float32)


@cache
def dynamic_code() -> torch.Tensor:
    """bitsandbytes' signed 8-bit dynamic map (Dettmers 2015, arXiv 1511.04561), 256 sorted levels.

    Exponent e = 0..6 scales 10**(e-6); each exponent gets 2**e linearly spaced fraction midpoints
    in [0.1, 1], mirrored for the sign, plus 0 and 1.
    """
    levels = []
    for e in range(7):
        edges = torch.linspace(0.1, 1, 2**e + 1, dtype=torch.float32)
        mids = ((edges[:-1] + edges[1:]) / 2.0 * (10 ** (e - 6))).tolist()
        levels += mids + [-m for m in mids]
    levels += [0.0, 1.0]
    return torch.tensor(sorted(levels), dtype=torch.float32)


@dataclass
class NF4Weight:
    """A [N, K] weight in bitsandbytes NF4 storage. Tensors may live on any device.

    packed: uint8 [N*K/2] codes; absmax: fp32 [blocks], or uint8 [blocks] with double quant, in
    which case absmax_scale (fp32 [blocks/256]), absmax_code (fp32 [256]) and absmax_offset
    (fp32 scalar tensor) decode it: absmax = absmax_code[q] * absmax_scale[b // 256] + offset.
    """

    packed: torch.Tensor
    absmax: torch.Tensor
    shape: tuple[int, int]
    blocksize: int = 64
    dtype: torch.dtype = torch.bfloat16
    absmax_scale: torch.Tensor | None = None
    absmax_code: torch.Tensor | None = None
    absmax_offset: torch.Tensor | None = None

    @property
    def double_quant(self) -> bool:
        return self.absmax_scale is not None

    @property
    def nbytes(self) -> int:
        """Bytes a kernel must read to use the weight once (codes + absmax + nested scales)."""
        extra = [self.absmax_scale, self.absmax_code] if self.double_quant else []
        return sum(t.numel() * t.element_size() for t in [self.packed, self.absmax, *extra])

    def to(self, device) -> NF4Weight:
        move = {k: getattr(self, k) for k in ("packed", "absmax", "absmax_scale", "absmax_code", "absmax_offset")}
        return replace(self, **{k: (v.to(device) if v is not None else None) for k, v in move.items()})


def _nearest(scaled: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Index of the nearest level in a sorted code; a value on a midpoint goes to the lower level,
    as in bitsandbytes' NF4 decision tree (csrc/kernels.cu dQuantizeNF4 uses strict `>`)."""
    return torch.bucketize(scaled, (code[:-1] + code[1:]) / 2, out_int32=True)


def _blockwise(flat: torch.Tensor, blocksize: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Absmax per block and the values scaled by it into [-1, 1]; a short last block is kept."""
    pad = -flat.numel() % blocksize
    blocks = torch.nn.functional.pad(flat, (0, pad)).view(-1, blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = (blocks * (1.0 / absmax.clamp(min=1e-38))[:, None]).clamp(-1, 1)
    return scaled.reshape(-1)[: flat.numel()], absmax


def _nearest_by_distance(scaled: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Nearest level, ties to the left, distances compared in fp32 as bitsandbytes' CPU
    `quantize_block` does (csrc/common.cpp). Its table-driven binary search (BinSearch Direct2)
    can land one level off for values within ~1e-5 of a midpoint; we take the true nearest."""
    left = (torch.bucketize(scaled, code, right=True) - 1).clamp(0, code.numel() - 2)
    closer_right = (scaled - code[left + 1]).abs() < (scaled - code[left]).abs()
    return left + closer_right.to(left.dtype)


def quantize_blockwise_8bit(x: torch.Tensor, blocksize: int = ABSMAX_BLOCKSIZE):
    """8-bit dynamic-map quantization of a 1-D fp32 tensor: (uint8 codes, fp32 absmax per block).
    Values are divided (not multiplied by a reciprocal) by the block absmax, as bitsandbytes' C code."""
    flat = x.float().reshape(-1)
    pad = -flat.numel() % blocksize
    blocks = torch.nn.functional.pad(flat, (0, pad)).view(-1, blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = (blocks / absmax[:, None]).reshape(-1)[: flat.numel()]
    return _nearest_by_distance(scaled, dynamic_code().to(x.device)).to(torch.uint8), absmax


def dequantize_blockwise_8bit(q: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor,
                              blocksize: int = ABSMAX_BLOCKSIZE) -> torch.Tensor:
    """Inverse of `quantize_blockwise_8bit`, in fp32."""
    idx = torch.arange(q.numel(), device=q.device) // blocksize
    return code.to(q.device)[q.long()] * absmax[idx]


def quantize_nf4(w: torch.Tensor, blocksize: int = 64, double_quant: bool = True) -> NF4Weight:
    """Quantize a [N, K] float weight to NF4 exactly as `bitsandbytes.functional.quantize_4bit`
    (quant_type="nf4", compress_statistics=double_quant) does on the CPU."""
    assert w.dim() == 2 and w.numel() % 2 == 0, "expects a 2-D weight with an even number of values"
    scaled, absmax = _blockwise(w.float().reshape(-1), blocksize)
    q = _nearest(scaled, nf4_code().to(w.device)).to(torch.uint8)
    packed = (q[0::2] << 4) | q[1::2]
    qw = NF4Weight(packed, absmax, tuple(w.shape), blocksize, w.dtype)
    if double_quant:
        offset = absmax.mean()
        qabs, scale = quantize_blockwise_8bit(absmax - offset)
        qw = replace(qw, absmax=qabs, absmax_scale=scale, absmax_code=dynamic_code().to(w.device),
                     absmax_offset=offset)
    return qw


def block_absmax(qw: NF4Weight) -> torch.Tensor:
    """The fp32 absmax of every 64-value block, undoing double quantization if present."""
    if not qw.double_quant:
        return qw.absmax.float()
    return dequantize_blockwise_8bit(qw.absmax, qw.absmax_scale, qw.absmax_code) + qw.absmax_offset


def dequantize_nf4(qw: NF4Weight, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The [N, K] weight in `dtype` (default: the dtype it was quantized from), as
    `bitsandbytes.functional.dequantize_4bit`: level * absmax in fp32, then one rounding."""
    codes = torch.stack([qw.packed >> 4, qw.packed & 15], dim=-1).reshape(-1).long()
    n = qw.shape[0] * qw.shape[1]
    absmax = block_absmax(qw)
    idx = torch.arange(n, device=codes.device) // qw.blocksize
    w = nf4_code().to(codes.device)[codes[:n]] * absmax[idx]
    return w.view(qw.shape).to(dtype or qw.dtype)


def nf4_linear_ref(x: torch.Tensor, qw: NF4Weight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = x @ W.T + bias with W dequantized in x's dtype (bitsandbytes' MatMul4Bit semantics)."""
    return torch.nn.functional.linear(x, dequantize_nf4(qw, x.dtype), bias)


def from_bnb(weight) -> NF4Weight:
    """View a bitsandbytes `Params4bit` (or a module holding one in `.weight`) as an NF4Weight.
    No copy: the tensors are bitsandbytes' own, so kernels read the model's storage directly."""
    weight = getattr(weight, "weight", weight)
    qs = weight.quant_state
    if qs.quant_type != "nf4":
        raise ValueError(f"only NF4 weights are supported, this one is {qs.quant_type!r}")
    packed = weight.data.reshape(-1)
    packed = packed if packed.dtype == torch.uint8 else packed.view(torch.uint8)
    base = NF4Weight(packed, qs.absmax, tuple(qs.shape), qs.blocksize, qs.dtype)
    if not qs.nested:
        return base
    if qs.state2.blocksize != ABSMAX_BLOCKSIZE:
        raise ValueError(f"nested absmax blocksize {qs.state2.blocksize} is not supported (expected 256)")
    offset = torch.as_tensor(qs.offset, dtype=torch.float32, device=qs.absmax.device)
    return replace(base, absmax_scale=qs.state2.absmax, absmax_code=qs.state2.code, absmax_offset=offset)
