"""Which precision should the tiny preset train in on a CPU? fp32 LoRA vs 4-bit NF4 LoRA (QLoRA).

    .venv/bin/python benchmarks/bench_train_cpu.py [--steps 6] [--batch 4] [--seq 256]

Both models train the same LoRA adapters on the same batches. Steps are interleaved (A, B, A, B,
...) so background load hits both alike, and the medians are compared. Prints one line per
setting and the ratio; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from eurus_lib.config import load_config
from eurus_lib.models import load_policy


def make_step(load_in_4bit: bool, batch: int, seq: int):
    cfg = load_config("tiny", [f"model.load_in_4bit={str(load_in_4bit).lower()}"])
    model, tok = load_policy(cfg.model.policy, cfg.model, lora=True, trainable=True)
    ids = torch.randint(100, tok.vocab_size - 1, (batch, seq), generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step() -> float:
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="Timed steps per setting (after one warm-up).")
    parser.add_argument("--batch", type=int, default=4, help="Sequences per step.")
    parser.add_argument("--seq", type=int, default=256, help="Tokens per sequence.")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch} x {args.seq} tokens")
    steps = {"fp32 LoRA": make_step(False, args.batch, args.seq), "4-bit NF4 LoRA": make_step(True, args.batch, args.seq)}
    times = {name: [] for name in steps}
    for step in steps.values():
        step()  # warm-up
    for _ in range(args.steps):
        for name, step in steps.items():
            times[name].append(step())
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, m in med.items():
        print(f"{name:16s} median step {m:6.2f} s  ({args.batch * args.seq / m:6.0f} tokens/s)")
    print(f"4-bit / fp32 step time ratio: {med['4-bit NF4 LoRA'] / med['fp32 LoRA']:.2f}")


if __name__ == "__main__":
    main()
