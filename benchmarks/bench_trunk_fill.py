"""The reward models' shared trunk filled with each prompt run once, against every sequence in full, side by side.

    .venv/bin/python benchmarks/bench_trunk_fill.py --run-dir runs/tiny     # after the rm stage

The rm stage scores its held-out pairs (and trains on its pairs) through `trunk.TrunkCache`: the
hidden states entering layer n-k are computed once per sequence. `TrunkCache.fill` runs a prompt
shared by several answers once and continues each answer from its KV cache, in groups of similar
length (`eval.padding.snug_batches`); the plain fill runs every (prompt, answer) sequence in full,
in length-sorted batches. This script fills the trunk for the run's held-out reward pairs
(`rm/heldout_pairs.jsonl`) with the run's SFT body both ways, alternating, `--repeats` times each,
and prints the trunk tokens and seconds of each, and the largest difference between their states.
Not a timed test.

Measured on the kit's 2-core CPU machine (idle), 2026-11-30, `--run-dir` the folder of reference run
tiny-2026-11-30c (69 pairs, 56 prompts, 29,181 tokens, k=4, 2 threads), in the order printed:
shared 48.4 s, plain 72.0 s, shared 36.4 s, plain 60.3 s; 16,779 trunk tokens shared against 29,181;
largest difference between the two fills' states 5.2e-4.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a run folder where the rm stage ran")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from eurus_lib.config import load_config
    from eurus_lib.eval.padding import length_sorted_batches, pad_batch
    from eurus_lib.models import load_reward_model
    from eurus_lib.rm.data import reward_input_ids
    from eurus_lib.rm.model import rm_model_settings
    from eurus_lib.trunk import TrunkCache

    cfg = load_config(args.preset)
    root = Path(args.run_dir)
    pairs = [json.loads(line) for line in (root / "rm" / "heldout_pairs.jsonl").read_text().splitlines()]
    model, tok = load_reward_model(str(root / "sft" / "model"), cfg.model)
    model.eval()
    k = rm_model_settings(cfg).lora_layers
    groups: dict[str, list] = {}
    for p in pairs:
        groups.setdefault(repr(p["prompt"]), []).extend(
            [reward_input_ids(tok, p["prompt"], p["chosen"]), reward_input_ids(tok, p["prompt"], p["rejected"])])
    rows = [r for g in groups.values() for r in g]
    print(f"{len(pairs)} held-out pairs, {len(groups)} prompts, {sum(map(len, rows))} tokens, k={k}, "
          f"{torch.get_num_threads()} threads")

    def shared():
        cache = TrunkCache(k)
        cache.fill(model, list(groups.values()), pad_id=tok.pad_token_id, batch_size=args.batch_size)
        return cache

    def plain():
        cache = TrunkCache(k)
        for batch in length_sorted_batches([len(r) for r in rows], args.batch_size):
            ids, mask = pad_batch([rows[i] for i in batch], tok.pad_token_id, "right")
            cache._fill(model, ids, mask, [tuple(rows[i]) for i in batch])
        return cache

    caches = {}
    for _ in range(args.repeats):
        for name, fill in (("shared", shared), ("plain", plain)):
            start = time.perf_counter()
            with torch.inference_mode():
                caches[name] = fill()
            print(f"{name}: {time.perf_counter() - start:.1f} s, {caches[name].trunk_tokens} trunk tokens", flush=True)
    worst = max(float((caches["shared"].states[key] - states).abs().max())
                for key, states in caches["plain"].states.items())
    print(f"largest difference between the two fills' states: {worst:.2e}")


if __name__ == "__main__":
    main()
