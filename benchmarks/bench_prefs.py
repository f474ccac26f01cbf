"""Our preference training step against a plain HF + peft + TRL DPOTrainer script, side by side on CPU.

    .venv/bin/python benchmarks/bench_prefs.py                          # tiny settings, 2 threads
    .venv/bin/python benchmarks/bench_prefs.py --pairs-file runs/tiny/trees/pairs.jsonl --steps 8 --rounds 2

Same model (the embedded SmolLM2-135M-Instruct), same pairs, same batch of pairs, same threads.
Each side runs in its own process, so each peak RSS is its own, and the sides alternate for
`--rounds` rounds, so load from other work on the machine falls on both alike.

- plain: what a TRL user writes: DPOTrainer(model, peft_config=LoraConfig(all-linear), DPOConfig
  defaults), i.e. gradient checkpointing on, a random sampler, and the reference scored on every
  step by a second forward with the adapters disabled.
- ours: the prefs stage's step (eurus_lib.prefs.train): reference log-probs scored once before
  training and shared by the three algorithms (their one-time cost is printed apart, and divided
  by 3 in the total), length-grouped batches in a fixed order, LoRA on the top `--lora-layers`
  layers only, TRL's fused LM head on the completion positions only, no checkpointing, and the
  frozen layers below the adapters read from the trunk cache the reference pass filled
  (eurus_lib/trunk.py).
- ours-no-trunk: the same without the trunk cache, which shows what the cache alone buys.

Prints the median seconds per optimizer step after the first, completion tokens per second, the
ratio plain/ours (> 1: ours is faster) and both peak RSS values.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIDES = ("plain", "ours-no-trunk", "ours")


def synthetic_pairs(n: int) -> list[dict]:
    """Multi-turn math pairs shaped like the tiny trees' (a prompt of a few hundred tokens, short answers)."""
    rows = []
    for i in range(n):
        problem = (f"Solve the following math problem step-by-step.\nSimplify your answer as much as possible. "
                   f"Present your final answer as \\boxed{{Your Answer}}.\nA shop sells {i + 3} crates with {i + 5} "
                   f"apples each and gives away {i + 2} apples. How many apples are left?" + " Think carefully." * (i % 4))
        history = [{"from": "user", "value": problem}]
        for turn in range(i % 3):
            history += [{"from": "assistant", "value": f"Step 1: {i + 3} * {i + 5} = {(i + 3) * (i + 5) + turn}.\n"
                                                       f"The answer is \\boxed{{{turn}}}."},
                        {"from": "user", "value": "Out: None\nYour answer is wrong.\nRecheck the product."}]
        answer = (i + 3) * (i + 5) - (i + 2)
        rows.append({"id": f"s{i}", "trajectory": history,
                     "chosen": f"Step 1: {i + 3} * {i + 5} = {(i + 3) * (i + 5)}.\nStep 2: minus {i + 2}.\n"
                               f"The answer is \\boxed{{{answer}}}.",
                     "rejected": f"Step 1: {i + 3} + {i + 5} = {2 * i + 8}.\nThe answer is \\boxed{{{2 * i + 8}}}."})
    return rows


def load_pairs(args) -> list[dict]:
    from eurus_lib.jsonl import read_jsonl

    rows = read_jsonl(args.pairs_file) if args.pairs_file else synthetic_pairs(args.pairs)
    return rows[: args.pairs]


def step_timer(times: list[float]):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t0)

    return StepTimer()


def run_plain(args, rows, out: Path) -> dict:
    """The plain script: nothing but HF, peft and TRL defaults."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from eurus_lib.models import resolve_model_path
    from eurus_lib.ultrainteract.convert import pair_to_dpo

    path = resolve_model_path("embedded:smollm2-135m")
    model, tok = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    config = DPOConfig(output_dir=str(out), per_device_train_batch_size=args.batch, max_steps=args.steps,
                       learning_rate=5e-5, max_length=args.max_length, report_to="none", use_cpu=True, bf16=False,
                       logging_steps=1, save_strategy="no", seed=0)
    trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list([pair_to_dpo(r) for r in rows]),
                         processing_class=tok, peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                                      task_type="CAUSAL_LM"))
    times = []
    trainer.add_callback(step_timer(times))
    trainer.train()
    return {"steps": times, "reference_s": 0.0}


def run_ours(args, rows, out: Path, use_trunk: bool = True) -> dict:
    """The prefs stage's path: shared reference pass (filling the trunk cache), then a DPO run on its columns."""
    from eurus_lib.config import load_config
    from eurus_lib.prefs.data import batch_order, dpo_rows, token_lengths, usable_pairs
    from eurus_lib.prefs.policy import Start, lora_config
    from eurus_lib.prefs.reference import shared_reference
    from eurus_lib.prefs.train import train_algorithm
    from eurus_lib.trunk import TrunkCache

    cfg = load_config("tiny", [f"model.lora_layers={args.lora_layers}", f"prefs.batch_size={args.batch}",
                               f"prefs.max_steps={args.steps}", "prefs.lr=5e-5", f"prefs.save_steps={args.steps + 1}"])
    start = _base_start(cfg, Start, lora_config)
    pairs, _ = usable_pairs(rows, token_lengths(start.tok), args.max_length)
    batches = batch_order([p.length for p in pairs], args.batch, seed=0)
    trunk = TrunkCache(args.lora_layers) if use_trunk else None
    t0 = time.perf_counter()
    ref = shared_reference(start, pairs, batches, cfg.prefs, out, with_kl=False, seed=0, device="cpu",
                           max_length=args.max_length, trunk=trunk)
    reference_s = time.perf_counter() - t0
    start = _base_start(cfg, Start, lora_config)
    times = []
    train_algorithm("dpo", start, dpo_rows(pairs, batches, ref), cfg.prefs, out / "dpo", sft_dir=out, seed=0,
                    device="cpu", max_length=args.max_length, callbacks=[step_timer(times)], trunk=trunk)
    return {"steps": times, "reference_s": reference_s}


def _base_start(cfg, start_cls, lora_config):
    from eurus_lib.models import load_policy

    model, tok = load_policy(cfg.model.policy, cfg.model)
    return start_cls(model.train(), tok, lora_config(model, cfg.model), "merge")


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    rows = load_pairs(args)
    with tempfile.TemporaryDirectory() as tmp:
        if args.worker == "plain":
            result = run_plain(args, rows, Path(tmp))
        else:
            result = run_ours(args, rows, Path(tmp), use_trunk=args.worker == "ours")
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("RESULT " + json.dumps(result), flush=True)


def run_side(side: str, argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", side, *argv], capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(args)
    argv = [a for a in sys.argv[1:] if a not in ("--worker",)]
    results = {side: [] for side in SIDES}
    for _ in range(args.rounds):
        for side in SIDES:
            results[side].append(run_side(side, argv))
    report(args, results)


def report(args, results: dict) -> None:
    step = {s: statistics.median(t for r in rs for t in r["steps"][1:]) for s, rs in results.items()}
    rss = {s: max(r["peak_rss_gib"] for r in rs) for s, rs in results.items()}
    ref = {s: statistics.median(r["reference_s"] for r in results[s]) for s in SIDES[1:]}
    print(f"pairs per step {args.batch}, {args.steps} steps, {args.threads} threads, {args.rounds} round(s), "
          f"max_length {args.max_length}, ours with LoRA on the top {args.lora_layers} layers")
    print(f"{'':15}{'s/step':>10}{'reference s':>13}{'peak RSS GiB':>14}")
    for side in SIDES:
        print(f"{side:15}{step[side]:>10.2f}{ref.get(side, 0.0):>13.1f}{rss[side]:>14.2f}")
    print(f"ratio plain/ours per step: {step['plain'] / step['ours']:.2f}x "
          f"({'ours faster' if step['ours'] < step['plain'] else 'OURS SLOWER'}); "
          f"ours-no-trunk/ours: {step['ours-no-trunk'] / step['ours']:.2f}x (what the trunk cache buys)")
    total_ours = step["ours"] * args.steps + ref["ours"] / 3
    print(f"ours also scores the reference once, shared by 3 algorithms; per run with its third: "
          f"{total_ours:.1f} s against plain {step['plain'] * args.steps:.1f} s")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs-file", help="UltraInteract_pair JSONL (default: synthetic multi-turn math pairs).")
    p.add_argument("--pairs", type=int, default=16, help="Pairs to use.")
    p.add_argument("--batch", type=int, default=4, help="Pairs per optimizer step (both sides).")
    p.add_argument("--steps", type=int, default=4, help="Optimizer steps per side per round.")
    p.add_argument("--rounds", type=int, default=1, help="Alternating rounds of plain then ours.")
    p.add_argument("--threads", type=int, default=2, help="torch threads on both sides.")
    p.add_argument("--max-length", type=int, default=768, help="Longest prompt + response (tokens).")
    p.add_argument("--lora-layers", type=int, default=4, help="Ours: LoRA on the top k layers only.")
    p.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    main()
