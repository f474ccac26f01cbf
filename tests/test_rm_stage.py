"""The whole rm stage on the real tiny model, on a small hand-built run folder (tiny settings, a few steps)."""

import json

import pytest
from test_rm_model import make_sft_adapter

from eurus_lib.config import load_config
from eurus_lib.jsonl import read_jsonl, write_jsonl
from eurus_lib.pipeline import run_stage
from eurus_lib.runs import RunDir
from eurus_lib.stages import get_stage
from eurus_lib.tasks import ultrainteract_instruction
from eurus_lib.tasks.base import Task
from eurus_lib.trees.prompts import ground_truth_action

SMALL = ["tasks.n_train=4", "tasks.n_heldout=3", "tasks.humaneval_heldout=0", "rm.max_steps=2", "rm.batch_size=2", "rm.lora_layers=1",
         "rm.max_length=768", "rm.save_steps=1", "rm.score_batch_size=8"]
OBJECTIVES = ["bt+dr", "bt", "dr"]


def build_run(root, cfg):
    """Tasks from the real tasks stage; trees pairs, an SFT adapter and held-out answers written by hand."""
    run = RunDir.open(root, cfg)
    run_stage(get_stage("tasks"), cfg, run)
    pairs = []
    for t in map(Task.from_dict, read_jsonl(root / "tasks" / "train.jsonl")):
        pairs.append({"task": t.task, "dataset": t.dataset,
                      "trajectory": [{"from": "user", "value": ultrainteract_instruction(t)}],
                      "chosen": ground_truth_action(t, "cot"), "rejected": "Step 1: guess.\nAnswer:\n\\boxed{0}",
                      "id": f"{t.id[:12]}_1_1", "parent_id": t.id})
    write_jsonl(root / "trees" / "pairs.jsonl", pairs)
    write_jsonl(root / "trees" / "rm_pairs.jsonl", pairs[:1])  # a duplicate of a trajectory pair: skipped
    make_sft_adapter(root / "sft" / "model", cfg.model)
    heldout = read_jsonl(root / "tasks" / "heldout.jsonl")
    for name in ("sft", "base"):
        write_jsonl(root / "sft" / "heldout" / f"{name}.jsonl",
                    [{"id": t["id"], "family": t["family"], "correct": name == "base" and i == 0,
                      "response": f"{name}: the answer is {i + 3}."} for i, t in enumerate(heldout)])
    return run


@pytest.mark.slow
def test_rm_stage_trains_every_objective_from_one_start_and_scores_held_out_pairs(tmp_path):
    cfg = load_config("tiny", SMALL)
    run = build_run(tmp_path, cfg)
    summary = run_stage(get_stage("rm"), cfg, run)

    assert summary["data"]["rows"] == 4 and summary["data"]["skipped"]["duplicate"] == 1
    assert summary["data"]["sources"] == {"ultrainteract": 4}
    assert summary["trunk"]["k"] == 1 and summary["trunk"]["tokens"] > 0  # LoRA on the last layer: trunk shared
    first_steps = []
    for objective in OBJECTIVES:
        folder = tmp_path / "rm" / objective
        adapter = json.loads((folder / "model" / "adapter_config.json").read_text())
        assert adapter["base_model_name_or_path"] == "../../../sft/model"  # reloads by merging sft/model first
        log = read_jsonl(folder / "log.jsonl")
        assert [r["step"] for r in log] == [1, 2] and all(r["dr_share"] == 1.0 for r in log)
        assert {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"} <= set(log[0])
        first_steps.append((log[0]["rewards/chosen"], log[0]["rewards/rejected"]))
        assert summary["objectives"][objective]["train"]["steps"] == 2
    assert first_steps[1] == pytest.approx(first_steps[0]) and first_steps[2] == pytest.approx(first_steps[0])
    # the same start and the same first batch for every objective: the same rewards before the first update

    held = summary["heldout"]
    assert (held["problems"], held["pairs"], held["policy_pairs"]) == (3, 3, 1)  # base right once: one control pair
    assert summary["groups"][-1] == "all" and summary["objectives"]["bt+dr"]["eval"]["all"]["n"] == 3
    assert summary["untrained"]["eval"]["all"]["n"] == 3  # the shared start, scored as a baseline
    assert len(read_jsonl(tmp_path / "rm" / "untrained_scores.jsonl")) == 4  # 3 ground-truth pairs + 1 control
    assert (tmp_path / "figures" / "rm_reward_distributions.png").is_file()
    assert (tmp_path / "figures" / "rm_training.png").is_file()
    report = get_stage("rm").report_fn(run)
    assert "Table 4 analog" in report and "rm_reward_distributions.png" in report

    from eurus_lib.rm import load_trained_reward_model
    from eurus_lib.rm.evaluate import score_pairs

    model, tok = load_trained_reward_model(run, "dr", cfg)  # what the eval stage calls
    pairs = read_jsonl(tmp_path / "rm" / "heldout_pairs.jsonl")
    stored = read_jsonl(tmp_path / "rm" / "dr" / "heldout_scores.jsonl")
    again = score_pairs(model, tok, pairs)
    assert [r["chosen_reward"] for r in again] == pytest.approx([r["chosen_reward"] for r in stored], abs=1e-5)

    before = (tmp_path / "rm" / "summary.json").stat().st_mtime_ns
    run_stage(get_stage("rm"), cfg, run)  # done with these settings: skipped
    assert (tmp_path / "rm" / "summary.json").stat().st_mtime_ns == before


@pytest.mark.slow
def test_a_killed_objective_resumes_from_its_last_checkpoint_and_logs_each_step_once(tmp_path):
    from eurus_lib.models import load_tokenizer
    from eurus_lib.rm.data import pair_example, tokenize_pairs
    from eurus_lib.rm.model import rm_model_settings, start_reward_model
    from eurus_lib.rm.train import is_trained, train_objective

    cfg = load_config("tiny", SMALL + ["rm.max_steps=3"])
    build_run(tmp_path, cfg)
    tok = load_tokenizer(str(tmp_path / "sft" / "model"))
    rows, _ = tokenize_pairs([pair_example(r, "ultrainteract") for r in read_jsonl(tmp_path / "trees" / "pairs.jsonl")],
                             tok, max_length=768)
    out = tmp_path / "rm" / "bt+dr"

    def killed_at_step_2(record):
        if record["step"] == 2:
            raise KeyboardInterrupt  # after step 1's checkpoint, before step 2's

    def train(on_record=None):
        model, tok, mode = start_reward_model(tmp_path / "sft" / "model", rm_model_settings(cfg), "cpu", seed=0)
        return train_objective("bt+dr", model, tok, mode, rows, cfg.rm, out, sft_dir=tmp_path / "sft" / "model",
                               seed=0, device="cpu", max_length=768, on_record=on_record)

    with pytest.raises(KeyboardInterrupt):
        train(killed_at_step_2)
    assert (out / "checkpoint-1").is_dir() and not is_trained(out)
    summary = train()
    assert summary["steps"] == 3 and is_trained(out) and not (out / "checkpoint-1").exists()
    assert [r["step"] for r in read_jsonl(out / "log.jsonl")] == [1, 2, 3]  # step 2's first row was cut
