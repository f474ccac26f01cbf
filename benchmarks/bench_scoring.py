"""Batched scoring of answers against scoring them one at a time, side by side in one run, on the CPU.

    .venv/bin/python benchmarks/bench_scoring.py                      # 256 answers, batch 16
    .venv/bin/python benchmarks/bench_scoring.py --answers 64 --batch-size 8 --reward
    .venv/bin/python benchmarks/bench_scoring.py --form final   # short answers: 'Answer: \\boxed{42}'

Best-of-N reranking and the reward model evaluation score every sampled answer: log p(answer |
prompt) under the policy (the "top log-probability" baseline, the reference log-probs) and a
reward model's scalar. This script scores the same answers with `sequence_logprobs` in
length-sorted padded batches and with batch size 1, and prints both times and their ratio;
`--reward` does the same for `reward_scores` with the tiny model under a fresh one-output head.
The answers are the ground-truth actions of the tiny preset's problems (every family, realistic
lengths). Both ways run in this one process, interleaved batch by batch (which goes first
alternates), so load from other processes on a shared machine affects them alike; the load
average is printed with the result. The two ways' numbers are also compared, so a speed-up never
hides a wrong result. Not a timed test.

Measured on the idle 2-core VM, 2026-11-30 (log-probs, batch 16, the default form): 256 answers of
31-205 tokens (205 with the prompt): batched 147.9 s, one at a time 161.6 s: 1.1x; 64 answers:
30.9 s against 35.8 s, 1.2x. Largest difference between the two ways: 1.1e-4 nats.

Earlier (log-probs, batch 16, 2026-11-29, the kit's shared 2-core CPU machine while other jobs
held a load average of 8-13 and this process was pinned to one CPU, so absolute rates are low):
- `--form final`, 256 answers of 10-20 tokens (150 with the prompt): batched 1493 s, one at a time
  1605 s: 1.1x.
- default form, 32 answers of 103-479 tokens (369 with the prompt): batched 611 s, one at a time
  297 s: 0.5x, batching is slower here. On a CPU a single 370-token row is already a large
  matrix product, so batching buys little, while padding to the longest row of a batch costs
  compute and, with a padding mask, attention falls off the fused causal kernel (a guess, not
  profiled). Batching is meant for accelerators (not measured: no GPU in this session); on a
  CPU, score long answers with a small batch.
Largest difference between the two ways' numbers: 1.5e-4 nats (fp32).

On a shared 2-core machine, run it with OMP_WAIT_POLICY=PASSIVE: torch's two OpenMP threads
otherwise spin-wait for a core another process holds (measured: a one-token forward of the
tiny model 3.8 s instead of 0.18 s), which swamps what is being measured.
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
    parser.add_argument("--form", choices=["action", "final"], default="action",
                        help="Answers to score: whole ground-truth actions (default) or just 'Answer: \\boxed{x}'.")
    args = parser.parse_args()

    import torch

    from eurus_lib.config import load_config
    from eurus_lib.eval.scoring import encode_response, reward_scores, sequence_logprobs
    from eurus_lib.models import load_policy, load_reward_model

    cfg = load_config("tiny")
    prompts, responses = answers(cfg, args.answers, args.form)
    model, tok = load_policy(cfg.model.policy, cfg.model, device="cpu")
    runs = [("log-probs", lambda p, r, bs: sequence_logprobs(model, tok, p, r, batch_size=bs))]
    if args.reward:
        torch.manual_seed(0)
        rm, rm_tok = load_reward_model(cfg.model.policy, cfg.model, device="cpu")
        runs.append(("rewards", lambda p, r, bs: reward_scores(rm, rm_tok, p, r, batch_size=bs)))
    rows = [encode_response(tok, p, r) for p, r in zip(prompts, responses)]
    lengths = [len(p) + len(r) for p, r in rows]  # what sequence_logprobs sorts its batches by
    answer_tokens = [len(r) for _, r in rows]
    print(f"{len(responses)} answers of {min(answer_tokens)}-{max(answer_tokens)} tokens (mean "
          f"{sum(answer_tokens) / len(rows):.0f}), {sum(lengths) / len(rows):.0f} tokens with the prompt")
    sequence_logprobs(model, tok, prompts[:2], responses[:2], batch_size=2)  # warm-up, not timed
    for name, score in runs:
        compare(name, score, prompts, responses, lengths, args.batch_size)
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def answers(cfg, n: int, form: str) -> tuple[list, list[str]]:
    """(conversations, responses): each problem's instruction and its ground-truth action (or final answer)."""
    from eurus_lib.eval.heldout import conversation
    from eurus_lib.tasks import generate_tasks
    from eurus_lib.trees.prompts import ground_truth_action

    splits = generate_tasks(cfg.tasks, 0)
    tasks = splits.train + splits.heldout
    if form == "final":
        pairs = [(conversation(t), f"Answer: \\boxed{{{t.answer or t.entry_point}}}") for t in tasks]
    else:
        pairs = [(conversation(t), ground_truth_action(t, schema)) for t in tasks for schema in ("cot", "modular")]
    pairs = [pairs[i % len(pairs)] for i in range(n)]
    return [p for p, _ in pairs], [r for _, r in pairs]


def compare(name: str, score, prompts: list, responses: list[str], lengths: list[int], batch_size: int) -> None:
    """Time both ways chunk by chunk, alternating which goes first, so a change in load hits both alike.

    The answers are sorted by length and cut into chunks of `batch_size`: exactly the batches the
    batched call forms on its own, so each chunk is one batched forward against `batch_size` single ones.
    """
    from eurus_lib.progress import progress_bar

    order = sorted(range(len(responses)), key=lambda i: -lengths[i])
    times = {"batched": 0.0, "one at a time": 0.0}
    worst = 0.0
    with progress_bar(len(order), f"{name}, both ways", "answer") as bar:
        for k, start in enumerate(range(0, len(order), batch_size)):
            chunk = order[start:start + batch_size]
            ways = [("batched", batch_size), ("one at a time", 1)]
            values = {}
            for label, bs in (ways if k % 2 == 0 else ways[::-1]):
                t0 = time.perf_counter()
                values[label] = score([prompts[i] for i in chunk], [responses[i] for i in chunk], bs)
                times[label] += time.perf_counter() - t0
            worst = max([worst] + [abs(a - b) for a, b in zip(values["batched"], values["one at a time"])])
            bar.update(len(chunk))
    for label, seconds in times.items():
        print(f"{name:>9} {label:>13}: {len(order)} answers in {seconds:.1f} s = {len(order) / seconds:.2f} answers/s")
    print(f"{name:>9} speed-up of batched scoring (batch {batch_size}): "
          f"{times['one at a time'] / times['batched']:.1f}x; largest difference between the two: {worst:.2e}",
          flush=True)


if __name__ == "__main__":
    main()
