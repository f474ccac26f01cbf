"""A small run folder for the preference-stage tests: real tasks, hand-written pairs, a small SFT adapter.

The trees and SFT stages are too slow to run inside a test, so the folder gets what they would
write: `trees/pairs.jsonl` in the UltraInteract_pair format (multi-turn, plus bad pairs the stage
must skip) and `sft/model/`, a LoRA adapter on the embedded model with small random weights, so
merging it changes the model (a fresh adapter would be the base model itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SMALL = ["tasks.n_train=3", "tasks.n_heldout=3", "model.lora_layers=2", "model.max_seq_len=256",
         "prefs.batch_size=2", "prefs.max_steps=3", "prefs.save_steps=1", "prefs.lr=1e-3", "prefs.ref_batch_size=4",
         "eval.max_problems=2", "eval.max_new_tokens=16"]
GOOD_PAIRS = 5  # with a batch of 2: 2 batches, and a last pair left over for KTO
BAD_PAIRS = {"same": 1, "empty": 1, "too_long": 1}


def pair_rows() -> list[dict]:
    rows = []
    for i in range(GOOD_PAIRS):
        history = [{"from": "user", "value": f"Solve the following math problem step-by-step.\nWhat is {i} + {2 * i}?"}]
        if i % 2:  # a turn-2 pair: the first answer, its feedback, then the pair
            history += [{"from": "assistant", "value": f"The answer is {i}."},
                        {"from": "user", "value": "Out: None\nYour answer is wrong.\nAdd the two numbers."}]
        rows.append({"task": "Math_CoT", "dataset": "tiny-math", "trajectory": history,
                     "chosen": f"Step 1: {i} + {2 * i} = {3 * i}.\nThe answer is \\boxed{{{3 * i}}}.",
                     "rejected": f"The answer is \\boxed{{{3 * i + 1}}}.", "id": f"p{i}_2_{1 + i % 2}",
                     "parent_id": f"p{i}"})
    rows.append({**rows[0], "id": "same", "rejected": rows[0]["chosen"]})
    rows.append({**rows[1], "id": "empty", "chosen": " "})
    rows.append({**rows[2], "id": "long", "chosen": "Step 1: add. " * 200})
    return rows


def make_run(root: Path, overrides: list[str] = ()):
    """(cfg, run) of a folder ready for the prefs stage."""
    from eurus_lib.config import load_config
    from eurus_lib.jsonl import write_jsonl
    from eurus_lib.pipeline import run_stage
    from eurus_lib.runs import RunDir
    from eurus_lib.stages import get_stage

    cfg = load_config("tiny", SMALL + list(overrides))
    run = RunDir.open(root, cfg)
    run_stage(get_stage("tasks"), cfg, run)
    write_jsonl(run.path("trees", "pairs.jsonl"), pair_rows())
    write_sft_adapter(cfg, run.root / "sft" / "model")
    return cfg, run


def write_sft_adapter(cfg, folder: Path) -> None:
    import torch

    from eurus_lib.models import load_policy

    model, tok = load_policy(cfg.model.policy, cfg.model, lora=True)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.01 * torch.randn(param.shape, generator=generator))
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))


def prefs_command(run_dir: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "eurus_lib.cli", "prefs", "--run-dir", str(run_dir), *SMALL, *overrides]


def start_prefs(run_dir: Path, overrides: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(prefs_command(run_dir, overrides), stdout=log.open("w"), stderr=subprocess.STDOUT)


def losses(run_dir: Path, algo: str) -> list[tuple[int, float]]:
    lines = (run_dir / "prefs" / algo / "log.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines)]
