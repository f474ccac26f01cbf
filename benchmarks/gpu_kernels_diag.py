"""Short GPU diagnostic for the NF4 kernels: every tuning candidate against cuBLAS on poisoned
output memory (so a kernel that skips tiles cannot inherit a previous call's numbers), then a
2-layer Mistral-shaped QLoRA run comparing losses of the fused and the dequant paths.

    PYTHONUNBUFFERED=1 OUT=/tmp/out python benchmarks/gpu_kernels_diag.py
"""

import json
import os
import sys
import tempfile
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.environ.get("OUT", tempfile.gettempdir())
RES: dict = {}


def save():
    with open(os.path.join(OUT, "gpu_kernels_diag.json"), "w") as f:
        json.dump(RES, f, indent=1)


def _rel(a, b):
    return round(((a.float() - b.float()).norm() / b.float().norm()).item(), 5)


def _poisoned(shape, fn, *args, **kwargs):
    t = torch.full(shape, float("nan"), device="cuda", dtype=torch.bfloat16)
    del t
    return fn(*args, **kwargs)


def candidates():
    import bitsandbytes.functional as F

    from eurus_lib.kernels import nf4_ref
    from eurus_lib.kernels import nf4_triton as T
    out = {}
    n, k = 3072, 2048
    w0 = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02
    packed, qs = F.quantize_4bit(w0, blocksize=64, compress_statistics=True, quant_type="nf4")
    w = F.dequantize_4bit(packed, qs)
    qw = nf4_ref.NF4Weight(packed.reshape(-1), qs.absmax, (n, k), 64, torch.bfloat16, qs.state2.absmax,
                           qs.state2.code, qs.offset)
    for m in (16, 512):
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        dy = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
        a = torch.randn(16, k, device="cuda", dtype=torch.bfloat16) * 0.05
        b = torch.randn(n, 16, device="cuda", dtype=torch.bfloat16) * 0.05
        xa, dyb = x @ a.t(), dy @ b
        for c in T._mm_cands(m, False):
            out[f"mm m{m} {c}"] = [_rel(_poisoned((m, n), T.nf4_matmul, x, qw, cfg=c), x @ w.t()),
                                   _rel(_poisoned((m, n), T.nf4_matmul, x, qw, lora=(xa, b), cfg=c),
                                        x @ w.t() + xa @ b.t())]
        for c in T._mm_t_cands(m, False):
            out[f"mm_t m{m} {c}"] = [_rel(_poisoned((m, k), T.nf4_matmul_t, dy, qw, cfg=c), dy @ w),
                                     _rel(_poisoned((m, k), T.nf4_matmul_t, dy, qw, lora=(dyb, a), cfg=c),
                                          dy @ w + dyb @ a)]
        print(m, {kk: v for kk, v in out.items() if f"m{m} " in kk}, flush=True)
    return out


def tiny_qlora():
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, MistralConfig, MistralForCausalLM

    from eurus_lib.kernels import patch_nf4_linears
    from eurus_lib.kernels.patch import POLICY
    cfg = MistralConfig(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                        num_hidden_layers=2, vocab_size=32000, max_position_embeddings=4096)
    path = tempfile.mkdtemp()
    with torch.device("cuda"):
        torch.manual_seed(0)
        MistralForCausalLM(cfg).to(torch.bfloat16).save_pretrained(path)
    ids = torch.randint(0, 32000, (2, 1024), device="cuda")
    out = {}
    for path_name in ("bnb", "dequant", "fused"):
        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(path, quantization_config=q, device_map={"": 0}, dtype=torch.bfloat16)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
        model.train()
        torch.manual_seed(0)
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
        if path_name != "bnb":
            patch_nf4_linears(model, enable=True)
            POLICY["large"] = path_name
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        losses, gnorms = [], []
        for _ in range(3):
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            gnorms.append({n.split("layers.")[-1][:40]: round(p.grad.norm().item(), 6)
                           for n, p in model.named_parameters() if p.grad is not None and "lora_B" in n})
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(round(loss.item(), 5))
        out[path_name] = {"losses": losses, "lora_B_grad_norms_step0": gnorms[0]}
        print(path_name, losses, flush=True)
        del model, opt
        torch.cuda.empty_cache()
    return out


for name, fn in (("candidates", candidates), ("tiny_qlora", tiny_qlora)):
    try:
        RES[name] = fn()
    except Exception as exc:
        RES[name] = {"error": repr(exc)[:500], "tb": traceback.format_exc()[-2000:]}
        print(name, RES[name], flush=True)
    save()
print("DONE")
