"""Batched scoring of answers against scoring them one at a time, side by side in one run, on the CPU.

    .venv/bin/python benchmarks/bench_scoring.py                      # 256 answers, batch 16
    .venv/bin/python benchmarks/bench_scoring.py --answers 64 --batch-size 8 --reward

Best-of-N reranking and the reward model evaluation score every sampled answer: log p(answer |
prompt) under the policy (the "top log-probability" baseline, the reference log-probs) and a
reward model's scalar. This script scores the same answers with `sequence_logprobs` in
length-sorted padded batches and then with batch size 1, and prints both times and their ratio;
`--reward` does the same for `reward_scores` with the tiny model under a fresh one-output head.
The answers are the ground-truth actions of the tiny preset's problems (every family, realistic
lengths). Both runs happen in this one process, one after the other, so load from other
processes on the machine affects them alike; the load average is printed with the result. The
two runs' numbers are also compared, so a speed-up never hides a wrong result. Not a timed test.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=256, help="Answers to score (default: 256).")
    parser.add_argument("--batch-size", type=int, default=16, help="Rows per batch when batched (default: 16).")
    parser.add_argument("--reward", action="store_true", help="Also time reward_scores with a reward-model head.")
    args = parser.parse_args()

    import torch

    from eurus_lib.config import load_config
    from eurus_lib.eval.scoring import reward_scores, sequence_logprobs
    from eurus_lib.models import load_policy, load_reward_model

    cfg = load_config("tiny")
    prompts, responses = answers(cfg, args.answers)
    model, tok = load_policy(cfg.model.policy, cfg.model, device="cpu")
    runs = [("log-probs", lambda bs: sequence_logprobs(model, tok, prompts, responses, batch_size=bs))]
    if args.reward:
        torch.manual_seed(0)
        rm, rm_tok = load_reward_model(cfg.model.policy, cfg.model, device="cpu")
        runs.append(("rewards", lambda bs: reward_scores(rm, rm_tok, prompts, responses, batch_size=bs)))
    lengths = [len(tok(r, add_special_tokens=False)["input_ids"]) for r in responses]
    print(f"{len(responses)} answers, {min(lengths)}-{max(lengths)} tokens each (mean {sum(lengths) / len(lengths):.0f})")
    sequence_logprobs(model, tok, prompts[:2], responses[:2], batch_size=2)  # warm-up, not timed
    for name, score in runs:
        compare(name, score, args.batch_size)
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def answers(cfg, n: int) -> tuple[list, list[str]]:
    """(conversations, responses): each problem's instruction and its ground-truth action, cycled to n."""
    from eurus_lib.eval.heldout import conversation
    from eurus_lib.tasks import generate_tasks
    from eurus_lib.trees.prompts import ground_truth_action

    splits = generate_tasks(cfg.tasks, 0)
    tasks = (splits.train + splits.heldout)
    pairs = [(conversation(t), ground_truth_action(t, schema)) for t in tasks for schema in ("cot", "modular")]
    pairs = [pairs[i % len(pairs)] for i in range(n)]
    return [p for p, _ in pairs], [r for _, r in pairs]


def compare(name: str, score, batch_size: int) -> None:
    times, values = {}, {}
    for label, bs in (("batched", batch_size), ("one at a time", 1)):
        t0 = time.perf_counter()
        values[label] = score(bs)
        times[label] = time.perf_counter() - t0
        print(f"{name:>9} {label:>13}: {len(values[label])} answers in {times[label]:.1f} s "
              f"= {len(values[label]) / times[label]:.2f} answers/s", flush=True)
    worst = max(abs(a - b) for a, b in zip(values["batched"], values["one at a time"]))
    print(f"{name:>9} speed-up of batched scoring (batch {batch_size}): "
          f"{times['one at a time'] / times['batched']:.1f}x; largest difference between the two: {worst:.2e}")


if __name__ == "__main__":
    main()
