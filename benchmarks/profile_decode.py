"""Where a decode step's time goes: torch's profiler over greedy steps of the held-out answers.

    .venv/bin/python benchmarks/profile_decode.py --run-dir runs/tiny            # the run's SFT policy
    .venv/bin/python benchmarks/profile_decode.py --run-dir runs/tiny --plain    # transformers' own cache

Prefills the run's held-out prompts in one batch (`eval.sampling.prefill`), then profiles the next
`--steps` greedy steps of `eval.sampling.decode` and prints the operators that took the most time,
with their share of the total. `--plain` leaves the KV cache as transformers' DynamicLayer, which
concatenates (copies) every layer's keys and values at each step; without it the loop decodes into
reserved room (`sampling.reserve`). Not a timed test: a profile, to see what a step is made of.

Measured on the kit's 2-core CPU machine (idle), 2026-11-30, `--run-dir` the folder of reference run
tiny-2026-11-30c (its SFT policy, 56 rows, 20 steps, 2 threads): with `--plain` 12.75 s of operator
time, aten::mm 49.9%, aten::cat 30.2%, CPU flash attention 10.8%; without it 6.55 s, aten::mm 68.8%,
attention 18.3%, aten::copy_ 1.4%.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a run folder where the tasks and sft stages ran")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--problems", type=int, default=56)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--plain", action="store_true", help="transformers' concatenating cache layers")
    args = parser.parse_args()

    import torch
    from torch.profiler import profile

    from eurus_lib.config import load_config
    from eurus_lib.eval import sampling
    from eurus_lib.eval.heldout import conversation
    from eurus_lib.eval.padding import token_ids
    from eurus_lib.generation import render_prompt
    from eurus_lib.policies import heldout_tasks, load_trained_policy
    from eurus_lib.runs import RunDir

    cfg = load_config(args.preset)
    run = RunDir(args.run_dir, cfg)
    tasks = heldout_tasks(run, cfg)[: args.problems]
    model, tok = load_trained_policy(run.root / "sft" / "model", cfg.model, "cpu")
    prompts = [token_ids(tok, render_prompt(tok, conversation(t))) for t in tasks]
    if args.plain:
        sampling.reserve = lambda cache, extra: None
    stop = sampling._stop_ids(model, tok)
    with torch.inference_mode():
        logits, cache, mask = sampling.prefill(prompts, model, tok.pad_token_id, 1)
        with profile() as prof:
            sampling.decode(model, logits, cache, mask, max_new_tokens=args.steps, temperature=0.0, top_p=1.0,
                            stop=stop, pad_id=tok.pad_token_id, generator=None)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{len(prompts)} rows, {args.steps} steps, {'plain' if args.plain else 'reserved'} cache, "
          f"{torch.get_num_threads()} threads: {total / 1e6:.2f} s of operator time")
    for e in events[:8]:
        print(f"  {e.key:<55} {100 * e.self_cpu_time_total / total:5.1f}%  ({e.count} calls)")


if __name__ == "__main__":
    main()
