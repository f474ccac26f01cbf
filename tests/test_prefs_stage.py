"""The whole preference stage on the real embedded model, on a tiny setting: outputs, logs, report, resume."""

import json
import signal
import subprocess
import time

import pytest
from prefs_support import BAD_PAIRS, GOOD_PAIRS, losses, make_run, pair_rows, prefs_command, start_prefs

ALGOS = ("dpo", "kto", "nca")


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """One run of the whole stage (all three algorithms) that several tests read."""
    from eurus_lib.pipeline import run_stage
    from eurus_lib.stages import get_stage

    root = tmp_path_factory.mktemp("prefs")
    cfg, run = make_run(root)
    return cfg, run, run_stage(get_stage("prefs"), cfg, run)


@pytest.mark.slow
def test_stage_trains_all_three_from_one_shared_reference(staged):
    cfg, run, summary = staged
    root = run.root
    assert summary["skipped"] == {**BAD_PAIRS, "kto_leftover": 1} and summary["pairs"] == GOOD_PAIRS - 1
    ref = [json.loads(x) for x in (root / "prefs" / "reference_logps.jsonl").read_text().splitlines()]
    assert len(ref) == GOOD_PAIRS - 1 and all("kl_desirable" in r for r in ref)
    for algo in ALGOS:
        log = [json.loads(x) for x in (root / "prefs" / algo / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log] == [1, 2, 3]
        for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "loss"):
            assert all(key in r for r in log), (algo, key)
        # before the first update the policy is the SFT policy: the shared reference must give it reward 0
        assert abs(log[0]["rewards/chosen"]) < 1e-3 and abs(log[0]["rewards/rejected"]) < 1e-3, algo
        assert log[-1]["rewards/margins"] != 0.0, algo  # and then it learns
        assert (root / "prefs" / algo / "model" / "adapter_config.json").is_file()
        assert len((root / "prefs" / "heldout" / f"{algo}.jsonl").read_text().splitlines()) == 2
    # every training forward read the frozen layers from the reference pass: 2 sequences a pair for DPO and NCA,
    # 4 for KTO (its KL rows), batch_size pairs a step
    sequences = sum(t["steps"] * cfg.prefs.batch_size * (4 if a == "kto" else 2) for a, t in summary["train"].items())
    assert summary["trunk"]["hits"] == sequences and summary["trunk"]["tokens"] > 0
    assert (root / "prefs" / "heldout" / "sft.jsonl").is_file()  # the sft stage scored nothing here
    assert set(summary["heldout"]["policies"]) == {"sft", *ALGOS}
    for name in ("prefs_reward_dynamics.png", "prefs_heldout.png"):
        assert (root / "figures" / name).stat().st_size > 10_000


@pytest.mark.slow
def test_report_gives_a_verdict_computed_from_the_logs_and_the_paper_beside_ours(staged):
    from eurus_lib.prefs.stage import report

    _, run, summary = staged
    assert summary["verdict"]["rewards"]["status"] in ("shown", "partly shown", "not shown")
    text = report(run)
    assert f"the paper's effect is {summary['verdict']['rewards']['status']}" in text and "paper 7B KTO" in text
    assert "1 with chosen identical to rejected" in text


@pytest.mark.slow
def test_a_finished_stage_is_not_run_again(staged):
    from eurus_lib.pipeline import run_stage
    from eurus_lib.stages import get_stage

    cfg, run, summary = staged
    before = (run.root / "prefs" / "dpo" / "log.jsonl").stat().st_mtime_ns
    assert run_stage(get_stage("prefs"), cfg, run) == summary
    assert (run.root / "prefs" / "dpo" / "log.jsonl").stat().st_mtime_ns == before


@pytest.mark.slow
def test_trained_adapter_loads_on_top_of_the_sft_adapter(staged):
    import torch

    from eurus_lib.models import load_policy

    cfg, run, _ = staged
    stacked, tok = load_policy(str(run.root / "prefs" / "dpo" / "model"), cfg.model)
    sft, _ = load_policy(str(run.root / "sft" / "model"), cfg.model)
    base, _ = load_policy(cfg.model.policy, cfg.model)
    ids = tok("Step 1: 1 + 2 = 3.", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = [m(ids).logits for m in (stacked, sft, base)]
    assert not torch.allclose(logits[0], logits[1]) and not torch.allclose(logits[1], logits[2])


@pytest.mark.slow
def test_a_killed_stage_resumes_from_its_checkpoint_with_every_step_logged_once(tmp_path):
    import shutil

    make_run(tmp_path / "a", ["prefs.algorithms=kto", "prefs.max_steps=4", "eval.max_problems=1"])
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    overrides = ["prefs.algorithms=kto", "prefs.max_steps=4", "eval.max_problems=1"]
    subprocess.run(prefs_command(tmp_path / "a", overrides), check=True, capture_output=True, timeout=900)

    proc = start_prefs(tmp_path / "b", overrides, tmp_path / "b.log")
    checkpoint = tmp_path / "b" / "prefs" / "kto" / "checkpoint-2"
    deadline = time.time() + 600
    while not (checkpoint / "trainer_state.json").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "b" / "prefs" / "kto" / "train.json").exists(), "killed too late to test a resume"
    subprocess.run(prefs_command(tmp_path / "b", overrides), check=True, capture_output=True, timeout=900)

    resumed = json.loads((tmp_path / "b" / "prefs" / "kto" / "train.json").read_text())
    assert resumed["resumed_from"] >= 2
    uninterrupted = losses(tmp_path / "a", "kto")
    assert [s for s, _ in losses(tmp_path / "b", "kto")] == [1, 2, 3, 4]
    assert [loss for _, loss in losses(tmp_path / "b", "kto")] == pytest.approx([x for _, x in uninterrupted],
                                                                                 rel=1e-4)


@pytest.mark.slow
def test_qlora_start_trains_the_sft_adapter_on_and_scores_the_same_reference_as_the_merged_start(tmp_path):
    from eurus_lib.prefs.data import dpo_rows, token_lengths, usable_pairs
    from eurus_lib.prefs.policy import start_policy
    from eurus_lib.prefs.reference import shared_reference
    from eurus_lib.prefs.train import train_algorithm

    cfg, run = make_run(tmp_path, ["prefs.max_steps=1"])
    sft = tmp_path / "sft" / "model"
    merged = start_policy(sft, cfg.model, "cpu")  # what model.load_in_4bit=false gets
    pairs, _ = usable_pairs(pair_rows()[:4], token_lengths(merged.tok), cfg.model.max_seq_len)
    batches, common = [[0, 1], [2, 3]], dict(with_kl=True, seed=0, device="cpu", max_length=cfg.model.max_seq_len)
    want = shared_reference(merged, pairs, batches, cfg.prefs, tmp_path / "a", **common)
    del merged

    kept = start_policy(sft, cfg.model, "cpu", mode="ref_adapter")  # what model.load_in_4bit=true gets
    trainable = {n for n, p in kept.model.named_parameters() if p.requires_grad}
    assert kept.peft_config is None and trainable and all("lora_" in n for n in trainable)
    got = shared_reference(kept, pairs, batches, cfg.prefs, tmp_path / "b", **common)
    for pid, row in want.items():
        for key in ("chosen", "rejected", "kl_desirable", "kl_undesirable"):
            assert got[pid][key] == pytest.approx(row[key], abs=1e-3), (pid, key)

    kept = start_policy(sft, cfg.model, "cpu", mode="ref_adapter")
    train_algorithm("dpo", kept, dpo_rows(pairs, batches, got), cfg.prefs, tmp_path / "dpo", sft_dir=sft, seed=0,
                    device="cpu", max_length=cfg.model.max_seq_len)
    first = json.loads((tmp_path / "dpo" / "log.jsonl").read_text().splitlines()[0])
    assert abs(first["rewards/chosen"]) < 1e-3  # TRL's "ref" copy is the SFT adapter: reward 0 before any update
    saved = json.loads((tmp_path / "dpo" / "model" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == json.loads((sft / "adapter_config.json").read_text())[
        "base_model_name_or_path"]  # a whole adapter on the base, not stacked on sft/model


@pytest.mark.slow
def test_a_step_budget_keeps_only_the_batches_it_trains_on(staged):
    import dataclasses

    from eurus_lib.prefs.stage import prepare_pairs

    cfg, run, _ = staged
    _, _, every = prepare_pairs(run, dataclasses.replace(cfg, prefs=dataclasses.replace(cfg.prefs, max_steps=-1)))
    _, _, budget = prepare_pairs(run, dataclasses.replace(cfg, prefs=dataclasses.replace(cfg.prefs, max_steps=1)))
    assert len(every) == 2 and budget == every[:1]  # the reference is scored for these pairs only


def test_the_stage_shares_the_trunk_only_where_its_states_fit(monkeypatch, capsys):
    import eurus_lib.prefs.stage as stage
    from eurus_lib.config import load_config
    from eurus_lib.prefs.data import Pair

    pairs, batches = [Pair({"id": "p"}, 500)] * 8, [[0, 1, 2, 3], [4, 5, 6, 7]]
    cache = stage.shared_trunk(load_config("tiny"), pairs, batches)
    assert cache is not None and cache.k == 4  # tiny: 8 pairs x 4 sequences x 500 tokens x 576 floats
    assert stage.shared_trunk(load_config("tiny", ["prefs.lora_layers=0"]), pairs, batches) is None
    assert stage.shared_trunk(load_config("tiny", ["model.load_in_4bit=true"]), pairs, batches) is None
    monkeypatch.setattr(stage, "TRUNK_LIMIT_GIB", 0.001)
    assert stage.shared_trunk(load_config("tiny"), pairs, batches) is None
    assert "not sharing the frozen trunk" in capsys.readouterr().out
