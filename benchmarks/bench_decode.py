"""Greedy held-out answers through the kit's decode loop against transformers' `generate`, side by side in one run.

    .venv/bin/python benchmarks/bench_decode.py --run-dir runs/tiny            # the run's SFT policy
    .venv/bin/python benchmarks/bench_decode.py --run-dir runs/tiny --policy base --problems 16

Every held-out answer of every policy goes through `eval.sampling.sample_n` (and so does tree
growth, through `generation.generate_chat`). Its loop drops finished answers from the batch (KV
cache, mask and positions), so a batch costs what its answers need, not what its longest one
needs; `generate` keeps every row to the end. It also prefills the prompts in length-sorted passes
of 8 and decodes into KV-cache room reserved up front (`sampling.reserve`). This script answers the
run's held-out problems three ways, with the same batch size, greedy and with the same token limit:
the kit's loop, the same loop without those two changes, and `generate`. It prints the times,
their ratios, and how many answers came out identical. Not a timed test.

Measured on the kit's 2-core CPU machine (idle), 2026-11-29, `--run-dir runs/tiny` (the SFT policy
of reference run tiny-2026-11-29), 56 problems in one batch, up to 160 tokens (median answer 72
tokens, 3 at the limit): kit loop 72.1 s, `generate` 110.4 s (1.53x), 56 of 56 answers identical.
"""

from __future__ import annotations

import argparse
import functools
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a run folder where the tasks stage (and, for sft, sft) ran")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--policy", choices=["sft", "base"], default="sft")
    parser.add_argument("--problems", type=int, default=56)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    args = parser.parse_args()

    import torch

    from eurus_lib.config import load_config
    from eurus_lib.eval.heldout import conversation
    from eurus_lib.eval.sampling import sample_n
    from eurus_lib.generation import render_prompt
    from eurus_lib.policies import heldout_tasks, load_trained_policy
    from eurus_lib.runs import RunDir

    cfg = load_config(args.preset)
    run = RunDir(args.run_dir, cfg)
    tasks = heldout_tasks(run, cfg)[: args.problems]
    spec = run.root / "sft" / "model" if args.policy == "sft" else cfg.model.policy
    model, tok = load_trained_policy(spec, cfg.model, "cpu")
    conversations = [conversation(t) for t in tasks]
    print(f"{len(tasks)} held-out problems, {args.policy} policy, batch {args.batch_size}, "
          f"up to {args.max_new_tokens} tokens, {torch.get_num_threads()} threads")

    options = {"temperature": 0.0, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size}
    start = time.perf_counter()
    ours = sample_n(model, tok, conversations, 1, **options)
    ours_s = time.perf_counter() - start

    # the same loop as it was before reserved cache room and length-sorted prefill passes
    from eurus_lib.eval import sampling

    saved = sampling.reserve, sampling.prefill
    sampling.reserve = lambda cache, extra: None  # transformers' DynamicLayer: a copy of the cache per step
    sampling.prefill = functools.partial(saved[1], rows_per_pass=len(conversations))  # one padded pass
    start = time.perf_counter()
    before = sample_n(model, tok, conversations, 1, **options)
    before_s = time.perf_counter() - start
    sampling.reserve, sampling.prefill = saved

    start = time.perf_counter()
    theirs = []
    prompts = [render_prompt(tok, c) for c in conversations]
    tok.padding_side = "left"
    for i in range(0, len(prompts), args.batch_size):
        enc = tok(prompts[i:i + args.batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=args.max_new_tokens, do_sample=False, temperature=None,
                                 top_p=None, top_k=None, pad_token_id=tok.pad_token_id)
        theirs += tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    generate_s = time.perf_counter() - start

    lengths = sorted(r[0]["tokens"] for r in ours)
    same = sum(a[0]["response"].strip() == b.strip() for a, b in zip(ours, theirs))
    print(f"answer tokens: median {lengths[len(lengths) // 2]}, longest {lengths[-1]}, "
          f"at the limit {sum(n >= args.max_new_tokens for n in lengths)}")
    same_before = sum(a[0]["token_ids"] == b[0]["token_ids"] for a, b in zip(ours, before))
    print(f"kit decode loop {ours_s:.1f} s · transformers generate {generate_s:.1f} s · "
          f"ratio {generate_s / ours_s:.2f}x · identical answers {same} of {len(tasks)}")
    print(f"kit decode loop {ours_s:.1f} s · the loop without reserved cache room, one padded prefill "
          f"{before_s:.1f} s · ratio {before_s / ours_s:.2f}x · identical answers {same_before} of {len(tasks)}")


if __name__ == "__main__":
    main()
