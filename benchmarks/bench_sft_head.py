"""SFT steps with TRL's LM head over every position (its CPU default) against over the answer tokens only, side by side.

    .venv/bin/python benchmarks/bench_sft_head.py --run-dir runs/tiny      # after the trees stage

TRL 1.16's SFTTrainer scores tokens through its fused LM head (trainer/utils.py,
add_fused_lm_head). Where Triton runs, the head projects only positions that have a label; on
any other device it projects every position, prompt and padding included, so that Neuron
compiles one tile shape per batch size. With the loss on the answers alone, that is SmolLM2's
49k-word head, forward and backward, over every instruction token and pad. The kit's
`training.compact_lm_head` makes TRL take its labelled-positions path on a CPU too; the
per-token log-probs are the same (each position is scored on its own). This script trains the
tiny preset's SFT (fresh LoRA, same seed, same batches) on the run's SFT rows for `--steps`
steps both ways, alternating `--repeats` times, and prints each run's seconds, the ratio, and
the largest difference between the two runs' step losses. Nothing is written into the run folder.
Not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a run folder where the trees stage ran")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import set_seed

    from eurus_lib.config import load_config
    from eurus_lib.models import load_policy
    from eurus_lib.runs import RunDir
    from eurus_lib.sft.data import general_mix, sft_rows, to_examples
    from eurus_lib.sft.train import train_sft
    from eurus_lib.training import compact_lm_head

    cfg = load_config(args.preset, [f"sft.max_steps={args.steps}"])
    run = RunDir(args.run_dir, cfg)
    examples = to_examples(sft_rows(run, cfg.sft)) + general_mix(cfg.sft, cfg.run.seed)
    print(f"{len(examples)} SFT examples, {args.steps} steps of {cfg.sft.batch_size}, LoRA on the top "
          f"{cfg.model.lora_layers} layers, {torch.get_num_threads()} threads")

    import eurus_lib.sft.train as sft_train

    def one(compact: bool) -> tuple[float, list[float]]:
        set_seed(cfg.run.seed)
        model, tok = load_policy(cfg.model.policy, cfg.model, device="cpu", lora=True, trainable=True)
        # train_sft compacts the head itself; the "every position" side swaps that for a no-op
        sft_train.compact_lm_head = compact_lm_head if compact else contextlib.nullcontext
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            train_sft(model, tok, examples, cfg.sft, out, seed=cfg.run.seed, device="cpu",
                      max_length=cfg.model.max_seq_len)
            seconds = time.perf_counter() - start
            losses = [json.loads(line)["loss"] for line in (Path(out) / "log.jsonl").read_text().splitlines()
                      if "loss" in json.loads(line)]
        return seconds, losses

    times = {"every position": [], "answer tokens only": []}
    losses = {}
    for _ in range(args.repeats):
        for name in times:
            seconds, losses[name] = one(compact=name == "answer tokens only")
            times[name].append(seconds)
            print(f"  {name}: {seconds:.1f} s", flush=True)
    full, compact = (min(times[n]) for n in times)
    diff = max((abs(a - b) for a, b in zip(*losses.values())), default=float("nan"))
    print(f"every position {full:.1f} s · answer tokens only {compact:.1f} s · ratio {full / compact:.2f}x "
          f"(best of {args.repeats}, including loading the model) · largest step-loss difference {diff:.2e}")


if __name__ == "__main__":
    main()
