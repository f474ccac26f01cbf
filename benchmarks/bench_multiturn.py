"""The multi-turn evaluation (MINT analog) of a run's policies one by one, against all of them together, side by side.

    .venv/bin/python benchmarks/bench_multiturn.py --run-dir runs/tiny      # after the prefs stage

The eval stage lets the SFT, DPO, KTO and NCA policies interact with the environment for up to
`eval.max_turns` turns on `eval.multiturn_problems` held-out problems. With a few problems per
policy, each decode step runs the whole model for a handful of rows. The preference policies are
LoRA adapters on the merged SFT policy, so the stage loads them into one peft model
(`policies.load_policy_group`) and answers every policy's unsolved problems in one batch per
turn, each row through its own adapter (`multiturn.interact_policies`). This script runs the interaction both ways on the same
problems, with turn 1 taken from the held-out answers the stages wrote (as the eval stage does),
and prints the seconds of each, their ratio, and how many records came out identical. It writes
nothing into the run folder. Not a timed test.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a run folder where the sft and prefs stages ran")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--problems", type=int, default=0, help="0: the preset's eval.multiturn_problems")
    args = parser.parse_args()

    import torch

    from eurus_lib.config import load_config
    from eurus_lib.eval.multiturn import greedy_actor, interact, interact_policies, success_by_turn
    from eurus_lib.eval.stage import _heldout_answers, policy_folders
    from eurus_lib.policies import heldout_environment, heldout_tasks, load_policy_group, load_trained_policy
    from eurus_lib.runs import RunDir

    cfg = load_config(args.preset)
    run = RunDir(args.run_dir, cfg)
    tasks = heldout_tasks(run, cfg)[: args.problems or cfg.eval.multiturn_problems]
    folders = policy_folders(run)
    options = {"max_turns": cfg.eval.max_turns, "seed": cfg.run.seed, "progress": False}
    decode = {"max_new_tokens": cfg.eval.max_new_tokens, "batch_size": cfg.eval.batch_size}
    first = {name: _heldout_answers(run, name, tasks) for name in folders}
    print(f"{', '.join(folders)}: {len(tasks)} problems each, up to {cfg.eval.max_turns} turns, "
          f"up to {cfg.eval.max_new_tokens} tokens an answer, {torch.get_num_threads()} threads")

    start = time.perf_counter()
    alone = {}
    for name, folder in folders.items():
        model, tok = load_trained_policy(folder, cfg.model, "cpu")
        alone[name] = interact(greedy_actor(model, tok, name=name, **decode), tasks, heldout_environment(cfg),
                               first_answers=first[name], **options)
        del model
    alone_s = time.perf_counter() - start

    start = time.perf_counter()
    group = load_policy_group(folders, cfg.model, "cpu")
    if group is None:
        raise SystemExit(f"the policies in {args.run_dir} share no base: the eval stage runs them one by one")
    model, tok, routes = group
    together = interact_policies(greedy_actor(model, tok, name="group", **decode), routes, tasks,
                                 heldout_environment(cfg), first_answers={n: first[n] for n in routes}, **options)
    together_s = time.perf_counter() - start

    same = sum(a == b for name in folders for a, b in zip(alone[name], together[name]))
    for name in folders:
        rates = ", ".join(f"{100 * r:.0f}" for r in success_by_turn(together[name], cfg.eval.max_turns))
        print(f"  {name}: success by turn (together) {rates}")
    print(f"one by one {alone_s:.1f} s · together {together_s:.1f} s · ratio {alone_s / together_s:.2f}x · "
          f"identical records {same} of {len(folders) * len(tasks)} (each includes loading its models)")


if __name__ == "__main__":
    main()
