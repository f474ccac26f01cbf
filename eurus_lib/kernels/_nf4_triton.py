"""Triton kernels that read a bitsandbytes NF4 weight: decode to bf16/fp16, M=1 GEMV, small-M GEMM.

Only `@triton.jit` code lives here; launch through `eurus_lib.kernels.nf4_triton`. Under Triton's
interpreter (TRITON_INTERPRET=1, CPU tensors) the same code runs on the CPU, so CI tests it, and
`static_check.py` compiles it for sm_90 without a GPU to read registers, spills, barriers and
instructions per weight (tests/test_kernels_static.py).

Storage (see nf4_ref.py): W [N, K] row-major, two 4-bit codes per byte (even element in the high
nibble), one absmax per QB=64 values, optionally 8-bit double-quantized in blocks of 256. We need
K % QB == 0, so a block never straddles two rows and row n, block j has absmax index n*K/QB + j.

Design rules (issue 12, from the compiled sm_90 code of the first pass):
- codes are read with 16-byte loads, and everything a thread multiplies them with is addressed
  with the same tensor shape, so Triton gives both loads one layout and no shared-memory layout
  change is needed in a loop (x is read as int32 pairs of bf16: (even, odd) in one word);
- the absmax (with double quantization: three loads and a multiply-add) is decoded once per
  block, never per weight;
- the 16-entry NF4 table is a small tensor looked up with tl.gather, which Triton 3.9 lowers to a
  shared-memory table read (one conflict-free LDS per weight), not a gather from global memory.
"""

import triton
import triton.language as tl


@triton.jit
def _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, blk, mask, DQ: tl.constexpr):
    """fp32 absmax of blocks `blk`; with double quant: code2[q8] * scale[blk // 256] + offset,
    rounded after the multiply and after the add, as bitsandbytes does (launch these kernels with
    enable_fp_fusion=False where bit-exactness matters)."""
    if DQ:
        q = tl.load(absmax_ptr + blk, mask=mask, other=0).to(tl.int32)
        scale = tl.load(scale_ptr + blk // 256, mask=mask, other=0.0)
        return tl.load(code2_ptr + q) * scale + tl.load(offset_ptr)
    else:
        return tl.load(absmax_ptr + blk, mask=mask, other=0.0)


@triton.jit
def _levels(lut, byte):
    """(level of the high nibble, level of the low nibble) of each code byte, fp32, from the
    16-entry table `lut` with one tl.gather (one table copy in shared memory, one read per nibble)."""
    pair = tl.join(byte >> 4, byte & 15)
    SHAPE: tl.constexpr = pair.shape
    NUMEL: tl.constexpr = pair.numel
    return tl.split(tl.reshape(tl.gather(lut, tl.reshape(pair, (NUMEL,)), 0), SHAPE))


@triton.jit
def _pairs(xw, dtype: tl.constexpr):
    """x[2i] and x[2i+1] as fp32 from int32 words holding the bf16 pair (little endian: the even
    element in the low half). For fp16 inputs the halves are converted from fp16 instead."""
    if dtype == tl.bfloat16:
        return (xw << 16).to(tl.float32, bitcast=True), (xw & -65536).to(tl.float32, bitcast=True)
    else:
        lo16 = (xw & 65535).to(tl.uint16).to(tl.float16, bitcast=True)
        hi16 = ((xw >> 16) & 65535).to(tl.uint16).to(tl.float16, bitcast=True)
        return lo16.to(tl.float32), hi16.to(tl.float32)


@triton.jit
def _cast(x, dtype: tl.constexpr, INTERP: tl.constexpr):
    """x.to(dtype), rounding to nearest even. The interpreter truncates fp32 -> bf16 (its cast_impl
    passes no rounding mode) where GPUs round, so under it (INTERP) we round by hand."""
    if INTERP and dtype == tl.bfloat16:
        bits = x.to(tl.uint32, bitcast=True)
        bits = bits + 0x7FFF + ((bits >> 16) & 1)
        return (bits >> 16).to(tl.uint16).to(tl.bfloat16, bitcast=True)
    else:
        return x.to(dtype)


@triton.jit
def _dot(a, b, acc, INTERP: tl.constexpr):
    """acc + a @ b. Under the interpreter (INTERP) the operands are upcast first: it multiplies bf16
    tensors' raw uint16 storage in tl.dot (triton/runtime/interpreter.py create_dot)."""
    if INTERP:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), acc)
    else:
        return tl.dot(a, b, acc)


@triton.jit
def nf4_dequant_kernel(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, out_ptr, n_blocks,
                       QB: tl.constexpr, NB: tl.constexpr, DQ: tl.constexpr, INTERP: tl.constexpr):
    """out (flat, N*K values) = W in out's dtype; NB consecutive 64-value blocks per program,
    grid (cdiv(n_blocks, NB),). Block-major: the absmax is decoded once per block, each value is
    level * absmax in fp32 with one rounding, as bitsandbytes' dequantize_4bit (bit-exact when
    launched with enable_fp_fusion=False)."""
    HALF: tl.constexpr = QB // 2
    blk = tl.program_id(0) * NB + tl.arange(0, NB)
    mask = blk < n_blocks
    t = tl.arange(0, HALF)
    byte = tl.load(w_ptr + blk[:, None] * HALF + t[None, :], mask=mask[:, None], other=0).to(tl.int32)
    a = _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, blk, mask, DQ)
    lut = tl.load(lut_ptr + tl.arange(0, 16))
    hi, lo = _levels(lut, byte)
    v = tl.reshape(tl.join(hi * a[:, None], lo * a[:, None]), (NB, QB))  # memory order: even, odd
    out = out_ptr + blk[:, None] * QB + tl.arange(0, QB)[None, :]
    tl.store(out, _cast(v, out_ptr.dtype.element_ty, INTERP), mask=mask[:, None])


@triton.jit
def nf4_gemv_kernel(x_ptr, w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, y_ptr,
                    N, K, stride_xm, stride_ym, stride_ys, blocks_per_split,
                    QB: tl.constexpr, BN: tl.constexpr, KB: tl.constexpr, DQ: tl.constexpr,
                    SPLIT: tl.constexpr, INTERP: tl.constexpr):
    """y[m, rows] = x[m] @ W[rows].T, one token row m per program (decode, M=1).

    Grid (cdiv(N, BN), M, SPLIT); program s covers blocks [s*blocks_per_split, +blocks_per_split)
    of K (split-K) in steps of KB blocks and, with SPLIT > 1, writes fp32 partial sums at
    y_ptr + s * stride_ys. A step is a [BN, S, 16] tile of code bytes: S 16-byte slots per row,
    one 16-byte load each. Each slot's 16 products are summed in the thread, then multiplied by
    the slot's block absmax, so the absmax costs one multiply per 32 weights."""
    pid_n = tl.program_id(0)
    m = tl.program_id(1)
    s = tl.program_id(2)
    V: tl.constexpr = 16
    PER: tl.constexpr = QB // 2 // V  # 16-byte slots per block
    S: tl.constexpr = KB * PER
    rows = pid_n * BN + tl.arange(0, BN)
    rmask = rows < N
    v = tl.arange(0, V)
    kb_start = s * blocks_per_split
    kb_end = tl.minimum(K // QB, kb_start + blocks_per_split)
    lut = tl.load(lut_ptr + tl.arange(0, 16))
    xw_ptr = x_ptr.to(tl.pointer_type(tl.int32), bitcast=True) + m * (stride_xm // 2)
    acc = tl.zeros((BN, S), dtype=tl.float32)
    for kb0 in range(kb_start, kb_end, KB):
        slot = kb0 * PER + tl.arange(0, S)
        smask = rmask[:, None] & (slot[None, :] < kb_end * PER)
        byte_off = rows[:, None] * (K // QB) * (QB // 2) + slot[None, :] * V
        byte = tl.load(w_ptr + byte_off[:, :, None] + v[None, None, :], mask=smask[:, :, None], other=0)
        # x pairs addressed with the codes' shape: same layout, no shared-memory layout change.
        xoff = (rows * 0)[:, None, None] + slot[None, :, None] * V + v[None, None, :]
        xw = tl.load(xw_ptr + xoff, mask=smask[:, :, None], other=0)
        hi, lo = _levels(lut, byte.to(tl.int32))
        xe, xo = _pairs(xw, x_ptr.dtype.element_ty)
        part = tl.sum(hi * xe + lo * xo, axis=2)
        a = _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, byte_off // (QB // 2), smask, DQ)
        acc += part * a
    y = tl.sum(acc, axis=1)
    if SPLIT == 1:
        tl.store(y_ptr + m * stride_ym + rows, _cast(y, y_ptr.dtype.element_ty, INTERP), mask=rmask)
    else:
        tl.store(y_ptr + s * stride_ys + m * stride_ym + rows, y, mask=rmask)


@triton.jit
def nf4_mm_small_kernel(x_ptr, w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, y_ptr,
                        M, N, K, stride_xm, stride_ym, stride_ys, blocks_per_split,
                        QB: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, DQ: tl.constexpr,
                        SPLIT: tl.constexpr, INTERP: tl.constexpr):
    """y = x @ W.T for a few rows x [M, K] (M = 2..64) on tensor cores, the weight decoded in
    registers right before the MMA (Marlin/FLUTE style, issue 12 item 2).

    Computes y.T = W @ x.T so the decoded tile is the MMA's first operand and BN (>= 64) its
    wide side. Each 64-value block of K is split into its even and odd columns: the high nibbles
    (even k) and low nibbles (odd k) decode to two [BN, 32] tiles that meet x's even and odd
    columns in two tl.dot calls, with no interleaving; the block's absmax then scales the partial
    sum, once per output element per block. Levels enter the MMA in x's dtype (one rounding of
    the table value; bitsandbytes' own GEMV rounds the scaled value instead).
    Grid (cdiv(N, BN), cdiv(M, BM), SPLIT); SPLIT > 1 writes fp32 partials (split-K)."""
    pid_n = tl.program_id(0)
    pid_m = tl.program_id(1)
    s = tl.program_id(2)
    HALF: tl.constexpr = QB // 2
    rows = pid_n * BN + tl.arange(0, BN)
    rmask = rows < N
    offs_m = pid_m * BM + tl.arange(0, BM)
    mmask = offs_m < M
    t = tl.arange(0, HALF)
    kb_start = s * blocks_per_split
    kb_end = tl.minimum(K // QB, kb_start + blocks_per_split)
    lut = tl.load(lut_ptr + tl.arange(0, 16))
    dt: tl.constexpr = x_ptr.dtype.element_ty
    xw_ptr = x_ptr.to(tl.pointer_type(tl.int32), bitcast=True)
    acc = tl.zeros((BN, BM), dtype=tl.float32)
    for kb in range(kb_start, kb_end):
        blk = rows * (K // QB) + kb
        byte = tl.load(w_ptr + blk[:, None] * HALF + t[None, :], mask=rmask[:, None], other=0)
        hi, lo = _levels(lut, byte.to(tl.int32))
        xw = tl.load(xw_ptr + offs_m[None, :] * (stride_xm // 2) + kb * HALF + t[:, None], mask=mmask[None, :], other=0)
        xe, xo = _pairs(xw, dt)
        part = _dot(hi.to(dt), xe.to(dt), tl.zeros((BN, BM), dtype=tl.float32), INTERP)
        part = _dot(lo.to(dt), xo.to(dt), part, INTERP)
        acc += part * _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, blk, rmask, DQ)[:, None]
    ptrs = offs_m[None, :] * stride_ym + rows[:, None]
    mask = rmask[:, None] & mmask[None, :]
    if SPLIT == 1:
        tl.store(y_ptr + ptrs, _cast(acc, y_ptr.dtype.element_ty, INTERP), mask=mask)
    else:
        tl.store(y_ptr + s * stride_ys + ptrs, acc, mask=mask)
