"""Sweep β, learning rate, steps, data size and LoRA layers: when does DPO's chosen reward fall and KTO's and NCA's rise?

    .venv/bin/python benchmarks/sweep_prefs.py --run-dir runs/tiny
    .venv/bin/python benchmarks/sweep_prefs.py --run-dir runs/tiny --beta 0.1 0.5 --lr 5e-5 2e-4 --steps 40

Needs a run folder where the trees and sft stages finished. Every cell of the grid trains DPO, KTO
and NCA from the SFT policy exactly as the prefs stage does (same pairs, batch order, shared
reference), without the held-out answers (that is the stage's job), into <run>/sweeps/<cell>/;
finished cells are read back, so a killed sweep goes on where it stopped. The reference log-probs
do not depend on β, the learning rate or the steps, so they are scored once per batch order.
Prints one row per cell: each algorithm's final chosen and rejected reward (mean of the last 10%
of steps), the final paired accuracy, and whether the paper's sign pattern shows.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

GRID_KEYS = ("beta", "lr", "steps", "pairs", "lora_layers")


def cell_overrides(cell: dict) -> list[str]:
    return [f"prefs.beta={cell['beta']}", f"prefs.lr={cell['lr']}", f"prefs.max_steps={cell['steps']}",
            f"prefs.max_pairs={cell['pairs']}", f"prefs.lora_layers={cell['lora_layers']}"]


def cell_name(cell: dict) -> str:
    return "_".join(f"{k}{cell[k]}" for k in GRID_KEYS)


def run_cell(run, cfg, cell: dict, out: Path) -> dict:
    """Train the three algorithms of one cell (or read them back); return their step logs."""
    from eurus_lib.hardware import pick_device
    from eurus_lib.jsonl import read_jsonl
    from eurus_lib.prefs.data import dpo_rows, kto_rows
    from eurus_lib.prefs.policy import start_policy
    from eurus_lib.prefs.reference import shared_reference
    from eurus_lib.prefs.stage import prepare_pairs
    from eurus_lib.prefs.train import finished, train_algorithm

    device, _ = pick_device(cfg)
    sft_dir = run.root / "sft" / "model"
    pairs, _, batches = prepare_pairs(run, cfg)
    ref_dir = run.root / "sweeps" / f"reference_b{cfg.prefs.batch_size}_p{cell['pairs']}"
    ref = shared_reference(start_policy(sft_dir, cfg.model, device), pairs, batches, cfg.prefs, ref_dir,
                           with_kl=True, seed=cfg.run.seed, device=device, max_length=cfg.model.max_seq_len)
    for algo in cfg.prefs.algorithms:
        if finished(out / algo) is None:
            rows = (kto_rows if algo == "kto" else dpo_rows)(pairs, batches, ref)
            start = start_policy(sft_dir, cfg.model, device, lora_layers=cfg.prefs.lora_layers)
            train_algorithm(algo, start, rows, cfg.prefs, out / algo,
                            sft_dir=sft_dir, seed=cfg.run.seed, device=device, max_length=cfg.model.max_seq_len)
    return {algo: read_jsonl(out / algo / "log.jsonl") for algo in cfg.prefs.algorithms}


def row(cell: dict, logs: dict, seconds: float) -> str:
    from eurus_lib.prefs.verdict import reward_dynamics, reward_verdict

    dyn = reward_dynamics(logs)
    verdict = reward_verdict(dyn)
    cells = []
    for algo in ("dpo", "kto", "nca"):
        c, r, a = (_final(dyn.get(algo, {}), f"rewards/{k}") for k in ("chosen", "rejected", "accuracies"))
        cells.append(f"{c:+7.3f} {r:+7.3f} {a:4.2f}")
    grid = " ".join(f"{cell[k]!s:>8}" for k in GRID_KEYS)
    return f"{grid} | " + " | ".join(cells) + f" | {verdict['status']:<13} {seconds:6.0f}"


def _final(dynamics: dict, key: str) -> float:
    return dynamics[key]["mean"] if dynamics.get(key) else float("nan")


def header() -> str:
    grid = " ".join(f"{k:>8}" for k in GRID_KEYS)
    algos = " | ".join(f"{a.upper() + ' chosen  reject  acc':<20}" for a in ("dpo", "kto", "nca"))
    return f"{grid} | {algos} | {'verdict':<13} {'s':>6}"


def main() -> None:
    from eurus_lib.config import load_config
    from eurus_lib.runs import RunDir

    args = parse_args()
    base = RunDir.existing(args.run_dir)
    print(header(), flush=True)
    for values in itertools.product(*(getattr(args, k) for k in GRID_KEYS)):
        cell = dict(zip(GRID_KEYS, values, strict=True))
        cfg = load_config(args.preset, [*args.set, *cell_overrides(cell)])
        t0 = time.perf_counter()
        logs = run_cell(base, cfg, cell, base.root / "sweeps" / cell_name(cell))
        print(row(cell, logs, time.perf_counter() - t0), flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", required=True, help="Run folder where the trees and sft stages finished.")
    p.add_argument("--preset", default="tiny", help="Preset the cells start from.")
    p.add_argument("--beta", nargs="+", type=float, default=[0.1], help="β values (paper: 0.1).")
    p.add_argument("--lr", nargs="+", type=float, default=[5e-5], help="Peak learning rates.")
    p.add_argument("--steps", nargs="+", type=int, default=[30], help="Optimizer steps per run.")
    p.add_argument("--pairs", nargs="+", type=int, default=[0], help="Pairs used (0: all).")
    p.add_argument("--lora-layers", dest="lora_layers", nargs="+", type=int, default=[4],
                   help="LoRA on the top k layers (0: all).")
    p.add_argument("--set", nargs="*", default=[], help="Other section.key=value overrides for every cell.")
    return p.parse_args()


if __name__ == "__main__":
    main()
