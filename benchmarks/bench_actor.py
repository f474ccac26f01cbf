"""Batched actor sampling against one-at-a-time generation, on the same problems, on the CPU.

    .venv/bin/python benchmarks/bench_actor.py                  # 64 actions, tiny preset's token budget
    .venv/bin/python benchmarks/bench_actor.py --problems 8 --samples 2 --max-new-tokens 48

The tree grower asks the actor for every live tree's action in one call (`ModelActor.sample`,
padded batches through `generate_chat`). This script times that against the same requests sent
one by one (batch size 1), with the same prompts, sampling settings and token budget, and prints
both rates and their ratio. Both runs are measured in this one process, side by side, so load
from other processes on the machine affects them alike. Not a timed test.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=32, help="Training problems to prompt (default: 32).")
    parser.add_argument("--samples", type=int, default=2, help="Actions per problem (default: 2).")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="Token budget per action (default: tiny preset).")
    parser.add_argument("--batch-size", type=int, default=None, help="Batch size when batched (default: tiny preset).")
    args = parser.parse_args()

    from eurus_lib.config import load_config
    from eurus_lib.models import load_policy
    from eurus_lib.tasks import generate_tasks, ultrainteract_instruction
    from eurus_lib.trees.actor import ModelActor
    from eurus_lib.trees.prompts import guide

    cfg = load_config("tiny")
    args.max_new_tokens = args.max_new_tokens or cfg.trees.max_new_tokens
    args.batch_size = args.batch_size or cfg.trees.batch_size
    model, tok = load_policy(cfg.model.policy, cfg.model, device="cpu")
    tasks = generate_tasks(cfg.tasks, 0).train[: args.problems]
    conversations = [[{"role": "system", "content": guide(t.task, "cot")},
                      {"role": "user", "content": ultrainteract_instruction(t)}] for t in tasks for _ in range(args.samples)]
    options = {"temperature": cfg.trees.temperature, "top_p": cfg.trees.top_p, "max_new_tokens": args.max_new_tokens}
    batched = ModelActor("batched", model, tok, batch_size=args.batch_size, **options)
    single = ModelActor("single", model, tok, batch_size=1, **options)
    single.sample(conversations[:1], seed=0)  # warm-up, not timed
    rates = {}
    for name, run in (("batched", lambda: batched.sample(conversations, seed=0)),
                      ("one at a time", lambda: [single.sample([c], seed=i)[0] for i, c in enumerate(conversations)])):
        t0 = time.perf_counter()
        texts = run()
        seconds = time.perf_counter() - t0
        tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)
        rates[name] = (len(texts) / seconds, tokens / seconds, seconds)
        print(f"{name:>13}: {len(texts)} actions in {seconds:.1f} s = {rates[name][0]:.2f} actions/s, "
              f"{rates[name][1]:.0f} generated tokens/s", flush=True)
    print(f"\nmachine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}; "
          f"{args.problems} problems x {args.samples} samples, max_new_tokens {args.max_new_tokens}, "
          f"batch size {args.batch_size}")
    print(f"speed-up of batched sampling (actions per second): {rates['batched'][0] / rates['one at a time'][0]:.1f}x")


if __name__ == "__main__":
    main()
