"""How many preference trees the tiny preset grows in 5 minutes on this machine (CPU).

    .venv/bin/python benchmarks/bench_trees.py                      # 64 trees, tiny preset
    .venv/bin/python benchmarks/bench_trees.py --trees 16 trees.max_turns=2

Runs the real pipeline of the `trees` stage (embedded SmolLM2-135M actor, sandbox, rule critic,
append-only store) into a temporary folder and prints: wall time, CPU time, the machine's load
average (other processes on a shared machine slow every number here), trees per 5 minutes,
the share of sampled actions that were correct at each turn, the Table 1 layout and the
settings that produced it. Not a timed test: read the numbers, do not assert on them.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", help="Preset to grow trees with (default: tiny).")
    parser.add_argument("--trees", type=int, default=64, help="Trees to grow (default: 64).")
    parser.add_argument("overrides", nargs="*", help="section.key=value config overrides, e.g. trees.max_turns=3.")
    args = parser.parse_args()

    from eurus_lib.config import load_config
    from eurus_lib.tasks import generate_tasks
    from eurus_lib.trees import build_trees, stats_markdown
    from eurus_lib.trees.actor import load_actors
    from eurus_lib.trees.environment import Environment, sandbox_executor
    from eurus_lib.trees.model_critic import make_critic
    from eurus_lib.trees.stage import token_counter

    cfg = load_config(args.preset, args.overrides)
    cfg.tasks.n_train = max(cfg.tasks.n_train, args.trees)
    s = cfg.trees
    tasks = generate_tasks(cfg.tasks, cfg.run.seed).train[: args.trees]
    t_load = time.perf_counter()
    actors = load_actors(s, cfg.model, "cpu")
    critic = make_critic(s.critic, s, cfg.model, "cpu")
    env = Environment(sandbox_executor(timeout_s=s.sandbox_timeout_s, memory_mb=s.sandbox_memory_mb),
                      observation_chars=s.observation_chars, timeout_s=s.sandbox_timeout_s)
    load_s = time.perf_counter() - t_load
    load_before = os.getloadavg()
    wall0, cpu0, child0 = time.perf_counter(), time.process_time(), _children_cpu()
    with tempfile.TemporaryDirectory() as out:
        result = build_trees(tasks, out, actors=actors, environment=env, critic=critic, settings=s,
                             seed=cfg.run.seed, count_tokens=token_counter(actors))
    wall = time.perf_counter() - wall0
    cpu, child = time.process_time() - cpu0, _children_cpu() - child0
    stats = result["stats"]
    print(f"\nmachine: {os.cpu_count()} CPU cores; load average {load_before[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after (a value above the core count means other processes shared the CPUs)")
    print(f"settings: {_settings(cfg)}")
    print(f"model load {load_s:.1f} s (not counted); grew {result['trees']} trees in {wall:.0f} s wall, "
          f"{cpu:.0f} s CPU in this process + {child:.0f} s in sandboxed programs")
    print(f"trees per 5 minutes (wall): {result['trees'] * 300 / wall:.1f}")
    turn1 = stats["turn1_correct_share"]
    print(f"share of sampled actions correct at turn 1: {'-' if turn1 is None else f'{turn1:.1%}'}")
    print(f"rows: {result['rows']}\n")
    print(stats_markdown(stats))


def _settings(cfg) -> str:
    s = cfg.trees
    return (f"preset {cfg.run.name}, difficulty {cfg.tasks.difficulty}, max_turns {s.max_turns}, samples_per_turn "
            f"{s.samples_per_turn}, annotate_samples {s.annotate_samples}, max_new_tokens {s.max_new_tokens}, "
            f"batch_size {s.batch_size}, live_trees {s.live_trees}, observation_chars {s.observation_chars}, "
            f"actors {s.actors or [cfg.model.policy]}, critic {s.critic}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
