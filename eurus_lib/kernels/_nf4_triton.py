"""Triton kernels that multiply by a bitsandbytes NF4 weight, decoding it tile by tile in registers.

Only `@triton.jit` code lives here; launch through `eurus_lib.kernels.nf4_triton`. Under Triton's
interpreter (TRITON_INTERPRET=1, CPU tensors) the same code runs on the CPU, so CI tests it.

Storage (see nf4_ref.py): W [N, K] row-major, two 4-bit codes per byte (even element in the high
nibble), one absmax per QB=64 values, optionally 8-bit double-quantized in blocks of 256. We need
K % QB == 0, so a block never straddles two rows and row n, block j has absmax index n*K/QB + j.
The tensor-core kernels step K one block at a time, so each tile row needs a single absmax.
"""

import triton
import triton.language as tl


@triton.jit
def _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, blk, mask, DQ: tl.constexpr):
    """fp32 absmax of blocks `blk`; with double quant: code2[q8] * scale[blk // 256] + offset."""
    if DQ:
        q = tl.load(absmax_ptr + blk, mask=mask, other=0).to(tl.int32)
        scale = tl.load(scale_ptr + blk // 256, mask=mask, other=0.0)
        return tl.load(code2_ptr + q) * scale + tl.load(offset_ptr)
    else:
        return tl.load(absmax_ptr + blk, mask=mask, other=0.0)


@triton.jit
def _codes(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, rows, kb0, kb_end, N, K,
           QB: tl.constexpr, KB: tl.constexpr, DQ: tl.constexpr):
    """NF4 levels of W[rows, kb0*QB:(kb0+KB)*QB] as fp32 (hi, lo) halves [R, KB, QB/2], plus the
    absmax [R, KB]. hi holds the even columns, lo the odd ones; masked entries decode to 0."""
    HALF: tl.constexpr = QB // 2
    j = kb0 + tl.arange(0, KB)
    t = tl.arange(0, HALF)
    mask = (rows[:, None] < N) & (j[None, :] < kb_end)
    blk = rows[:, None] * (K // QB) + j[None, :]
    byte = tl.load(w_ptr + blk[:, :, None] * HALF + t[None, None, :], mask=mask[:, :, None], other=0)
    byte = byte.to(tl.int32)
    hi = tl.load(lut_ptr + (byte >> 4))
    lo = tl.load(lut_ptr + (byte & 15))
    # Zero the absmax of masked blocks: with double quant they would decode to `offset`.
    a = tl.where(mask, _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, blk, mask, DQ), 0.0)
    return hi, lo, a


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
def _w_tile(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, rows, kb, N, K,
            QB: tl.constexpr, DQ: tl.constexpr, TRANS: tl.constexpr, dtype: tl.constexpr,
            INTERP: tl.constexpr):
    """Block kb of W's rows, dequantized to `dtype`: W[rows, kb*QB:(kb+1)*QB] as [R, QB], or its
    transpose [QB, R] when TRANS. Level * absmax in fp32, one rounding (bitsandbytes' semantics).

    Built from elementwise ops on loads only (each byte is read for both of its nibbles): Triton
    3.6 fails to compile a join/reshape/trans chain feeding Hopper's wgmma (OptimizeDotOperands),
    and this form lets the compiler place the loads directly in the MMA operand layout."""
    c = tl.arange(0, QB)
    rmask = rows < N
    blk = rows * (K // QB) + kb
    shift = 4 - (c % 2) * 4  # even column: high nibble
    a = tl.where(rmask, _absmax(absmax_ptr, scale_ptr, code2_ptr, offset_ptr, blk, rmask, DQ), 0.0)
    if TRANS:
        byte = tl.load(w_ptr + blk[None, :] * (QB // 2) + (c // 2)[:, None], mask=rmask[None, :], other=0)
        v = tl.load(lut_ptr + ((byte.to(tl.int32) >> shift[:, None]) & 15)) * a[None, :]
    else:
        byte = tl.load(w_ptr + blk[:, None] * (QB // 2) + (c // 2)[None, :], mask=rmask[:, None], other=0)
        v = tl.load(lut_ptr + ((byte.to(tl.int32) >> shift[None, :]) & 15)) * a[:, None]
    return _cast(v, dtype, INTERP)


@triton.jit
def _dot(a, b, acc, INTERP: tl.constexpr):
    """acc + a @ b. Under the interpreter (INTERP) the operands are upcast first: it multiplies bf16
    tensors' raw uint16 storage in tl.dot (triton/runtime/interpreter.py create_dot)."""
    if INTERP:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), acc)
    else:
        return tl.dot(a, b, acc)


@triton.jit
def nf4_gemv_kernel(x_ptr, w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, y_ptr,
                    N, K, stride_xm, stride_ym, stride_ys, blocks_per_split,
                    QB: tl.constexpr, BN: tl.constexpr, KB: tl.constexpr, DQ: tl.constexpr,
                    SPLIT: tl.constexpr, INTERP: tl.constexpr):
    """y[m, rows] = x[m] @ W[rows].T for one token row m per program (decode, M=1).

    Grid (cdiv(N, BN), M, SPLIT). Memory-bound: each weight byte is read once and fed to FMAs on
    CUDA cores; the absmax is applied per 64-value block after the multiply. x is read as
    contiguous (even, odd) pairs and split in registers. With SPLIT > 1 each program covers a
    slice of K and writes fp32 partial sums (y_ptr + split * stride_ys)."""
    pid_n = tl.program_id(0)
    m = tl.program_id(1)
    s = tl.program_id(2)
    HALF: tl.constexpr = QB // 2
    rows = pid_n * BN + tl.arange(0, BN)
    t = tl.arange(0, HALF)
    p = tl.arange(0, 2)
    kb_start = s * blocks_per_split
    kb_end = tl.minimum(K // QB, kb_start + blocks_per_split)
    acc = tl.zeros((BN, KB, HALF), dtype=tl.float32)
    for kb0 in range(kb_start, kb_end, KB):
        hi, lo, a = _codes(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, rows, kb0, kb_end,
                           N, K, QB, KB, DQ)
        j = kb0 + tl.arange(0, KB)
        xoff = m * stride_xm + j[:, None, None] * QB + 2 * t[None, :, None] + p[None, None, :]
        xpair = tl.load(x_ptr + xoff, mask=(j < kb_end)[:, None, None], other=0.0).to(tl.float32)
        xe, xo = tl.split(xpair)
        acc += (hi * xe[None, :, :] + lo * xo[None, :, :]) * a[:, :, None]
    y = tl.sum(tl.sum(acc, axis=2), axis=1)
    if SPLIT == 1:
        tl.store(y_ptr + m * stride_ym + rows, _cast(y, y_ptr.dtype.element_ty, INTERP), mask=rows < N)
    else:
        tl.store(y_ptr + s * stride_ys + m * stride_ym + rows, y, mask=rows < N)


@triton.jit
def nf4_mm_kernel(x_ptr, w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, y_ptr,
                  xa_ptr, lb_ptr, bias_ptr,
                  M, N, K, LORA_R, stride_xm, stride_ym, stride_ys, stride_xam, stride_lbn, blocks_per_split,
                  QB: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, GROUP_M: tl.constexpr,
                  DQ: tl.constexpr, SPLIT: tl.constexpr, RP: tl.constexpr, HAS_BIAS: tl.constexpr,
                  SWAP: tl.constexpr, INTERP: tl.constexpr):
    """y = x @ W.T (+ xa @ lb.T, the LoRA term, + bias) for x [M, K], W [N, K] NF4.

    Tensor-core tiles stepping K one 64-value block at a time; the W tile is decoded in registers
    and used by BM rows, so its decode cost shrinks as BM grows. SWAP computes the tile transposed,
    y.T = W @ x.T, so W is the MMA's first operand (it may stay in registers on Hopper) and a small
    M can be the MMA's narrow side. RP > 0 fuses LoRA: xa = s * x @ A.T [M, r] is precomputed
    (tiny), lb = B [N, r]; r is padded to RP >= 16 with masks for tl.dot.
    Grid (cdiv(M, BM) * cdiv(N, BN), SPLIT); SPLIT > 1 writes fp32 partials (small M only)."""
    pid = tl.program_id(0)
    s = tl.program_id(1)
    num_m = tl.cdiv(M, BM)
    num_n = tl.cdiv(N, BN)
    # Group programs along M so consecutive programs share W tiles in L2 (Triton matmul tutorial).
    group = GROUP_M * num_n
    first_m = (pid // group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % group) % size_m
    pid_n = (pid % group) // size_m
    offs_m = pid_m * BM + tl.arange(0, BM)
    rows = pid_n * BN + tl.arange(0, BN)
    c = tl.arange(0, QB)
    kb_start = s * blocks_per_split
    kb_end = tl.minimum(K // QB, kb_start + blocks_per_split)
    if SWAP:
        acc = tl.zeros((BN, BM), dtype=tl.float32)
    else:
        acc = tl.zeros((BM, BN), dtype=tl.float32)
    for kb in range(kb_start, kb_end):
        k = kb * QB + c
        w = _w_tile(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, rows, kb, N, K,
                    QB, DQ, not SWAP, x_ptr.dtype.element_ty, INTERP)
        if SWAP:
            xt = tl.load(x_ptr + offs_m[None, :] * stride_xm + k[:, None], mask=offs_m[None, :] < M, other=0.0)
            acc = _dot(w, xt, acc, INTERP)
        else:
            x = tl.load(x_ptr + offs_m[:, None] * stride_xm + k[None, :], mask=offs_m[:, None] < M, other=0.0)
            acc = _dot(x, w, acc, INTERP)
    if RP > 0:
        if s == 0:
            r = tl.arange(0, RP)
            if SWAP:
                lb = tl.load(lb_ptr + rows[:, None] * stride_lbn + r[None, :],
                             mask=(rows[:, None] < N) & (r[None, :] < LORA_R), other=0.0)
                xat = tl.load(xa_ptr + offs_m[None, :] * stride_xam + r[:, None],
                              mask=(offs_m[None, :] < M) & (r[:, None] < LORA_R), other=0.0)
                acc = _dot(lb, xat, acc, INTERP)
            else:
                xa = tl.load(xa_ptr + offs_m[:, None] * stride_xam + r[None, :],
                             mask=(offs_m[:, None] < M) & (r[None, :] < LORA_R), other=0.0)
                lbt = tl.load(lb_ptr + rows[None, :] * stride_lbn + r[:, None],
                              mask=(rows[None, :] < N) & (r[:, None] < LORA_R), other=0.0)
                acc = _dot(xa, lbt, acc, INTERP)
    if SWAP:
        if HAS_BIAS:
            if s == 0:
                acc += tl.load(bias_ptr + rows, mask=rows < N, other=0.0).to(tl.float32)[:, None]
        mask = (rows[:, None] < N) & (offs_m[None, :] < M)
        ptrs = offs_m[None, :] * stride_ym + rows[:, None]
    else:
        if HAS_BIAS:
            if s == 0:
                acc += tl.load(bias_ptr + rows, mask=rows < N, other=0.0).to(tl.float32)[None, :]
        mask = (offs_m[:, None] < M) & (rows[None, :] < N)
        ptrs = offs_m[:, None] * stride_ym + rows[None, :]
    if SPLIT == 1:
        tl.store(y_ptr + ptrs, _cast(acc, y_ptr.dtype.element_ty, INTERP), mask=mask)
    else:
        tl.store(y_ptr + s * stride_ys + ptrs, acc, mask=mask)


@triton.jit
def nf4_mm_t_kernel(dy_ptr, w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, dx_ptr,
                    dyb_ptr, la_ptr,
                    M, N, K, LORA_R, stride_dym, stride_dxm, stride_dybm, stride_lar,
                    QB: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, GROUP_M: tl.constexpr,
                    DQ: tl.constexpr, RP: tl.constexpr, SWAP: tl.constexpr, INTERP: tl.constexpr):
    """dx = dy @ W (+ dyb @ la, the LoRA term) for dy [M, N], W [N, K] NF4: the input gradient.

    Each program owns a [BM, QB] tile of dx (one 64-value block of K) and walks N in steps of BN,
    decoding the W tile [BN, QB] it needs. SWAP computes dx.T = W.T @ dy.T, W first (see
    nf4_mm_kernel). RP > 0 fuses LoRA: dyb = s * dy @ B [M, r], la = A [r, K].
    Grid (cdiv(M, BM) * K / QB,)."""
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BM)
    num_k = K // QB
    group = GROUP_M * num_k
    first_m = (pid // group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % group) % size_m
    kb = (pid % group) // size_m
    offs_m = pid_m * BM + tl.arange(0, BM)
    k = kb * QB + tl.arange(0, QB)
    if SWAP:
        acc = tl.zeros((QB, BM), dtype=tl.float32)
    else:
        acc = tl.zeros((BM, QB), dtype=tl.float32)
    for n0 in range(0, N, BN):
        rows = n0 + tl.arange(0, BN)
        w = _w_tile(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, rows, kb, N, K,
                    QB, DQ, SWAP, dy_ptr.dtype.element_ty, INTERP)
        if SWAP:
            dyt = tl.load(dy_ptr + offs_m[None, :] * stride_dym + rows[:, None],
                          mask=(rows[:, None] < N) & (offs_m[None, :] < M), other=0.0)
            acc = _dot(w, dyt, acc, INTERP)
        else:
            dy = tl.load(dy_ptr + offs_m[:, None] * stride_dym + rows[None, :],
                         mask=(offs_m[:, None] < M) & (rows[None, :] < N), other=0.0)
            acc = _dot(dy, w, acc, INTERP)
    if RP > 0:
        r = tl.arange(0, RP)
        if SWAP:
            lat = tl.load(la_ptr + r[None, :] * stride_lar + k[:, None], mask=r[None, :] < LORA_R, other=0.0)
            dybt = tl.load(dyb_ptr + offs_m[None, :] * stride_dybm + r[:, None],
                           mask=(offs_m[None, :] < M) & (r[:, None] < LORA_R), other=0.0)
            acc = _dot(lat, dybt, acc, INTERP)
        else:
            dyb = tl.load(dyb_ptr + offs_m[:, None] * stride_dybm + r[None, :],
                          mask=(offs_m[:, None] < M) & (r[None, :] < LORA_R), other=0.0)
            la = tl.load(la_ptr + r[:, None] * stride_lar + k[None, :], mask=r[:, None] < LORA_R, other=0.0)
            acc = _dot(dyb, la, acc, INTERP)
    if SWAP:
        ptrs, mask = offs_m[None, :] * stride_dxm + k[:, None], offs_m[None, :] < M
    else:
        ptrs, mask = offs_m[:, None] * stride_dxm + k[None, :], offs_m[:, None] < M
    tl.store(dx_ptr + ptrs, _cast(acc, dx_ptr.dtype.element_ty, INTERP), mask=mask)


@triton.jit
def nf4_dequant_kernel(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, out_ptr, N, K,
                       QB: tl.constexpr, BN: tl.constexpr, DQ: tl.constexpr, INTERP: tl.constexpr):
    """out = W in out's dtype, one [BN, QB] tile per program; grid (cdiv(N, BN), K / QB).
    For the 'dequant' path: when cuBLAS on a transient bf16 copy beats the fused kernels."""
    rows = tl.program_id(0) * BN + tl.arange(0, BN)
    kb = tl.program_id(1)
    w = _w_tile(w_ptr, absmax_ptr, scale_ptr, code2_ptr, offset_ptr, lut_ptr, rows, kb, N, K,
                QB, DQ, False, out_ptr.dtype.element_ty, INTERP)
    cols = kb * QB + tl.arange(0, QB)
    tl.store(out_ptr + rows[:, None] * K + cols[None, :], w, mask=rows[:, None] < N)
