"""A killed SFT run resumes from its last checkpoint: every step logged once, the same losses as an unbroken run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

# Trains 4 steps of 2 rows on the tiny model with a checkpoint after every step, through the
# stage's own train_sft (which resumes from out_dir's last checkpoint by itself).
SCRIPT = """
import sys
from transformers import set_seed
from eurus_lib.config import load_config
from eurus_lib.models import load_policy
from eurus_lib.sft.train import train_sft

cfg = load_config("tiny", ["model.lora_layers=2", "model.max_seq_len=192", "sft.batch_size=2", "sft.max_steps=4",
                           "sft.save_steps=1", "sft.warmup_ratio=0", "sft.lr=1e-3"])
rows = [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}],
         "completion": [{"role": "assistant", "content": f"Step 1: {i} + {i} = {2 * i}.\\nAnswer: {2 * i}"}]}
        for i in range(8)]
set_seed(0)  # as the sft stage does: the fresh LoRA weights are random
model, tok = load_policy(cfg.model.policy, cfg.model, device="cpu", lora=True, trainable=True)
print(train_sft(model, tok, rows, cfg.sft, sys.argv[1], seed=0, device="cpu", max_length=192), flush=True)
"""


def _train(out, log):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)], stdout=log, stderr=subprocess.STDOUT)


def _losses(out):
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())]


def test_a_killed_sft_run_resumes_with_every_step_once_and_the_same_losses(tmp_path):
    with open(tmp_path / "a.log", "w") as log:
        assert _train(tmp_path / "a", log).wait(timeout=600) == 0, (tmp_path / "a.log").read_text()[-2000:]

    with open(tmp_path / "b.log", "w") as log:
        proc = _train(tmp_path / "b", log)
        checkpoint = tmp_path / "b" / "checkpoint-2" / "trainer_state.json"
        deadline = time.time() + 600
        while not checkpoint.is_file() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (tmp_path / "b" / "model").exists(), "killed too late to test a resume"
    with open(tmp_path / "b2.log", "w") as log:
        assert _train(tmp_path / "b", log).wait(timeout=600) == 0, (tmp_path / "b2.log").read_text()[-2000:]

    assert "resuming from" in (tmp_path / "b2.log").read_text()
    assert [s for s, _ in _losses(tmp_path / "b")] == [1, 2, 3, 4]
    assert [x for _, x in _losses(tmp_path / "b")] == pytest.approx([x for _, x in _losses(tmp_path / "a")], rel=1e-4)
    assert not list((tmp_path / "b").glob("checkpoint-*"))  # dropped once the model is saved
