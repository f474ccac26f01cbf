"""One GPU run for the NF4 kernels: ceilings, per-layer benchmarks side by side with bitsandbytes and
bf16 cuBLAS, the auto-mode probe, and a full Mistral-7B-shaped QLoRA step with and without the kernels.

Every number is measured in this run on this card; each section is guarded so one failure keeps
the rest, and the JSON is rewritten after each section. Run on a GPU machine (bitsandbytes,
peft, transformers; liger-kernel optional):

    PYTHONUNBUFFERED=1 OUT=/tmp/out python benchmarks/gpu_kernels_check.py [--skip-qlora] [--layers 32]

Timing: CUDA graphs for M=1 and M=16 (launch overhead would hide the kernels), rotating over
4 weight copies so each call streams its weight from HBM, not from L2; CUDA events (triton's
do_bench, median) for M=4096; wall clock over synchronized steps for the QLoRA step.
"""

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OUT = os.environ.get("OUT", tempfile.gettempdir())
RES: dict = {}
SHAPES = [(4096, 14336), (14336, 4096), (4096, 4096), (4096, 1024)]  # (K, N) of Mistral-7B's linears
COPIES = 4


def save():
    with open(os.path.join(OUT, "gpu_kernels.json"), "w") as f:
        json.dump(RES, f, indent=1)


def section(name, fn, *args):
    t = time.time()
    try:
        RES[name] = fn(*args)
    except Exception as exc:
        RES[name] = {"error": repr(exc)[:800], "tb": traceback.format_exc()[-2500:]}
    RES.setdefault("section_s", {})[name] = round(time.time() - t, 1)
    print(f"== {name} ({time.time() - t:.1f}s):", json.dumps(RES[name])[:3000], flush=True)
    save()


def versions():
    import triton
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
           "sms": torch.cuda.get_device_properties(0).multi_processor_count, "python": sys.version.split()[0]}
    for mod in ("bitsandbytes", "transformers", "peft", "liger_kernel"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as exc:
            out[mod] = f"missing: {exc!r}"[:120]
    return out


def events_ms(fn, reps=20):
    from triton.testing import do_bench
    return do_bench(fn, warmup=5, rep=reps, return_mode="median")


def graph_ms(fns, reps=10):
    """Per-call time of fns (called in turn) replayed from one CUDA graph."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            for f in fns:
                f()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            for f in fns:
                f()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        g.replay()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / (reps * len(fns)))
    del g
    return sorted(times)[len(times) // 2]


def _copy_ms(nbytes):
    x = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    return events_ms(lambda: y.copy_(x), reps=50)


def _gemm_ms(n):
    a = torch.randn(n, n, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(n, n, dtype=torch.bfloat16, device="cuda")
    return events_ms(lambda: a @ b, reps=100)


def roofline():
    nbytes = 2 * 1024**3
    return {"copy_TBps_rw": round(2 * nbytes / _copy_ms(nbytes) / 1e9, 3),
            "bf16_gemm_8192_TFLOPs": round(2 * 8192**3 / _gemm_ms(8192) / 1e9, 1)}


def _layers(k, n):
    """COPIES bnb NF4+DQ layers (quantized on the GPU by bitsandbytes) and their bf16 originals."""
    import bitsandbytes as bnb

    from eurus_lib.kernels import nf4_ref
    lins, qs = [], []
    for i in range(COPIES):
        torch.manual_seed(i)
        w = torch.randn(n, k, dtype=torch.bfloat16, device="cuda") * 0.02
        q = bnb.nn.Linear4bit(k, n, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4", compress_statistics=True)
        q.weight = bnb.nn.Params4bit(w.cpu(), requires_grad=False, quant_type="nf4", compress_statistics=True, module=q)
        qs.append(q.cuda())
        lins.append(w)
    return lins, qs, [nf4_ref.from_bnb(q.weight) for q in qs]


def _rel(a, b):
    return round(((a.float() - b.float()).norm() / b.float().norm()).item(), 5)


def _small_m(row, m, lins, qs, qws, k):
    import torch.nn.functional as Fn

    from eurus_lib.kernels import nf4_triton as T
    xs = [torch.randn(m, k, dtype=torch.bfloat16, device="cuda") for _ in range(COPIES)]
    ours = T.nf4_gemv if m == 1 else T.nf4_matmul
    with torch.no_grad():
        row[f"M{m}_rel_err_vs_bnb"] = _rel(ours(xs[0], qws[0]), qs[0](xs[0]))
        # bitsandbytes last: if its kernels refuse graph capture, the others are already measured.
        for tag, f in (("ours", lambda i: ours(xs[i], qws[i])), ("bf16", lambda i: Fn.linear(xs[i], lins[i])),
                       ("bnb", lambda i: qs[i](xs[i]))):
            fns = [lambda i=i, f=f: f(i) for i in range(COPIES)]
            try:
                row[f"M{m}_{tag}_us"] = round(graph_ms(fns) * 1e3, 2)
            except Exception as exc:  # not capturable: fall back to events, and say so
                torch.cuda.synchronize()
                row[f"M{m}_{tag}_graph_error"] = repr(exc)[:200]
                row[f"M{m}_{tag}_us"] = round(events_ms(lambda fns=fns: [g() for g in fns]) * 1e3 / COPIES, 2)


def _large_m(row, lins, qs, qws, k, n, m=4096):
    import bitsandbytes.functional as F

    from eurus_lib.kernels import nf4_triton as T
    x = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
    dy = torch.randn(m, n, dtype=torch.bfloat16, device="cuda")
    w, q, qw = lins[0], qs[0], qws[0]
    wd = F.dequantize_4bit(q.weight.data, q.weight.quant_state)
    row["M4096_fwd_rel_err_vs_bnb"] = _rel(T.nf4_matmul(x, qw), x @ wd.t())
    row["M4096_dx_rel_err_vs_bnb"] = _rel(T.nf4_matmul_t(dy, qw), dy @ wd)
    xg = x.clone().requires_grad_(True)

    def bnb_autograd():
        xg.grad = None
        q(xg).backward(dy)

    st = q.weight.quant_state
    fns = {"bf16_fwd": lambda: x @ w.t(), "ours_fwd": lambda: T.nf4_matmul(x, qw),
           "bnb_fwd": lambda: x @ F.dequantize_4bit(q.weight.data, st).t(),
           "bf16_fwdbwd": lambda: (x @ w.t(), dy @ w),
           "ours_fwdbwd": lambda: (T.nf4_matmul(x, qw), T.nf4_matmul_t(dy, qw)),
           "ours_dequant_fwdbwd": lambda: (x @ T.nf4_dequantize(qw).t(), dy @ T.nf4_dequantize(qw)),
           "bnb_fwdbwd": lambda: (x @ F.dequantize_4bit(q.weight.data, st).t(), dy @ F.dequantize_4bit(q.weight.data, st)),
           "bnb_autograd_fwdbwd": bnb_autograd}
    for tag, f in fns.items():
        row[f"M4096_{tag}_ms"] = round(events_ms(f), 4)
    row["M4096_fwdbwd_ratio_ours_over_bf16"] = round(row["M4096_ours_fwdbwd_ms"] / row["M4096_bf16_fwdbwd_ms"], 3)
    row["M4096_fwdbwd_ratio_bnb_over_bf16"] = round(row["M4096_bnb_fwdbwd_ms"] / row["M4096_bf16_fwdbwd_ms"], 3)


def linears(copy_tbps):
    from eurus_lib.kernels import nf4_triton as T
    out = {}
    for k, n in SHAPES:
        row = {}
        t = time.time()
        lins = qs = qws = None
        try:
            lins, qs, qws = _layers(k, n)
            row["nf4_bytes"] = qws[0].nbytes
            for m in (1, 16):
                _small_m(row, m, lins, qs, qws, k)
            for tag in ("ours", "bnb"):
                row[f"M1_{tag}_GBps_on_nf4_bytes"] = round(row["nf4_bytes"] / row[f"M1_{tag}_us"] / 1e3, 1)
            row["M1_bf16_GBps_on_bf16_bytes"] = round(2 * k * n / row["M1_bf16_us"] / 1e3, 1)
            row["M1_ours_frac_of_copy_bw"] = round(row["M1_ours_GBps_on_nf4_bytes"] / (copy_tbps * 1e3), 3)
            row["M1_speedup_vs_bnb"] = round(row["M1_bnb_us"] / row["M1_ours_us"], 2)
            row["M16_over_M1_ours"] = round(row["M16_ours_us"] / row["M1_ours_us"], 2)
            _large_m(row, lins, qs, qws, k, n)
        except Exception as exc:
            row["error"] = repr(exc)[:500]
            row["tb"] = traceback.format_exc()[-1500:]
        row["tuned"] = {str(key): str(cfg) for key, cfg in T._TUNED.items() if key[2:4] == (n, k)}
        row["seconds"] = round(time.time() - t, 1)
        out[f"{k}x{n}"] = row
        print(f"  {k}x{n}: {json.dumps(row)[:1500]}", flush=True)
        del lins, qs, qws
        torch.cuda.empty_cache()
    return out


def probe():
    import bitsandbytes as bnb

    from eurus_lib.kernels.probe import LAST_PROBE, probe_policy
    q = bnb.nn.Linear4bit(4096, 14336, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")
    q.weight = bnb.nn.Params4bit(torch.randn(14336, 4096) * 0.02, requires_grad=False, quant_type="nf4",
                                 compress_statistics=True, module=q)
    policy = probe_policy(q.cuda())
    return {"policy": policy, "detail": dict(LAST_PROBE)}


def qlora(layers, batch, seq):
    """Mistral-7B-shaped model (random weights), NF4+DQ, LoRA r16 on all linears, checkpointing."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, MistralConfig, MistralForCausalLM

    from eurus_lib.kernels import patch_nf4_linears
    from eurus_lib.kernels.patch import POLICY
    cfg = MistralConfig(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                        num_hidden_layers=layers, vocab_size=32000, max_position_embeddings=4096)
    path = tempfile.mkdtemp()
    with torch.device("cuda"):
        torch.manual_seed(0)
        MistralForCausalLM(cfg).to(torch.bfloat16).save_pretrained(path)
    torch.cuda.empty_cache()
    out = {"layers": layers, "batch": batch, "seq": seq, "lora_r": 16}
    ids = torch.randint(0, 32000, (batch, seq), device="cuda")

    def run(tag, ours, liger, large_path="fused"):
        gc.collect()  # the previous variant's model sits in reference cycles (patched forwards, closures)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        if liger:
            from liger_kernel.transformers import apply_liger_kernel_to_mistral
            apply_liger_kernel_to_mistral()
        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(path, quantization_config=q, device_map={"": 0},
                                                     dtype=torch.bfloat16, attn_implementation="sdpa")
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
        model.train()  # from_pretrained returns eval mode, where HF skips gradient checkpointing
        torch.manual_seed(0)  # same LoRA init in every variant, so first-step losses are comparable
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
        patched = patch_nf4_linears(model, enable=True) if ours else 0
        POLICY["large"] = large_path  # training rows: fused kernels, or one-pass decode + cuBLAS
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        losses = []

        def step():
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(round(loss.item(), 4))
        for _ in range(2):  # warm-up: Triton compiles and tunes here
            step()
        torch.cuda.synchronize()
        peak_load_warm = torch.cuda.max_memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        t = time.time()
        for _ in range(4):
            step()
        torch.cuda.synchronize()
        ms = (time.time() - t) / 4 * 1e3
        out[tag] = {"step_ms": round(ms, 1), "tokens_per_s": round(batch * seq / ms * 1e3),
                    "peak_GiB_steady": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                    "peak_GiB_incl_load_and_warmup": round(max(peak_load_warm, torch.cuda.max_memory_allocated()) / 2**30, 2),
                    "layers_patched": patched, "large_m_path": large_path if ours else "bnb", "losses": losses}
        print(f"  {tag}: {out[tag]}", flush=True)

    variants = (("hf_bnb", False, False, "fused"), ("hf_bnb_ours", True, False, "fused"),
                ("hf_bnb_ours_dequant", True, False, "dequant"), ("hf_bnb_liger", False, True, "fused"),
                ("hf_bnb_liger_ours_dequant", True, True, "dequant"))
    for tag, ours, liger, large_path in variants:
        try:
            run(tag, ours, liger, large_path)
        except Exception as exc:
            out[tag] = {"error": repr(exc)[:500], "tb": traceback.format_exc()[-1500:]}
            print(f"  {tag}: {out[tag]}", flush=True)
        gc.collect()
        torch.cuda.empty_cache()
        save()
    return out


def summary():
    """The issue's targets, as ratios of numbers measured above."""
    s = {}
    lin = RES.get("linears", {})
    copy = RES.get("roofline", {}).get("copy_TBps_rw")
    for shape, row in lin.items():
        if "M1_ours_frac_of_copy_bw" in row:
            s[shape] = {"M1_frac_copy_bw (>=0.75)": row["M1_ours_frac_of_copy_bw"],
                        "M1_speedup_vs_bnb": row["M1_speedup_vs_bnb"],
                        "M16_over_M1 (<=1.5)": row["M16_over_M1_ours"],
                        "M4096_fwdbwd_over_bf16 (<=1.05)": row.get("M4096_fwdbwd_ratio_ours_over_bf16")}
    q = RES.get("qlora", {})
    for tag in ("hf_bnb_ours", "hf_bnb_ours_dequant", "hf_bnb_liger_ours_dequant"):
        if "step_ms" in q.get("hf_bnb", {}) and "step_ms" in q.get(tag, {}):
            s[f"{tag}_speedup_vs_hf_bnb (>=1.5)"] = round(q["hf_bnb"]["step_ms"] / q[tag]["step_ms"], 3)
    liger = q.get("hf_bnb_liger", {}).get("peak_GiB_steady")
    for tag in ("hf_bnb_ours", "hf_bnb_ours_dequant", "hf_bnb_liger_ours_dequant"):
        if liger and "peak_GiB_steady" in q.get(tag, {}):
            s[f"{tag}_peak_minus_liger_peak_GiB (<=0)"] = round(q[tag]["peak_GiB_steady"] - liger, 2)
    s["copy_TBps_rw"] = copy
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-qlora", action="store_true", help="skip the full-model QLoRA step")
    ap.add_argument("--layers", type=int, default=32, help="decoder layers of the Mistral-shaped model")
    ap.add_argument("--batch", type=int, default=2, help="sequences per step")
    ap.add_argument("--seq", type=int, default=2048, help="tokens per sequence")
    args = ap.parse_args()
    section("versions", versions)
    section("roofline", roofline)
    section("linears", linears, RES["roofline"].get("copy_TBps_rw", 0) or 1e9)
    section("probe", probe)
    if not args.skip_qlora:
        section("qlora", qlora, args.layers, args.batch, args.seq)
    section("summary", summary)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
