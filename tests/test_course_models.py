"""The course demos on the real tiny model: TRL's SFT loss on one batch, a short SFT run, short preference runs."""

from __future__ import annotations

import pytest

from eurus_lib.config import load_config
from eurus_lib.course import demo_config
from eurus_lib.runs import RunDir

pytestmark = pytest.mark.slow
SMALL = {"model.lora_layers": 2, "model.max_seq_len": 256, "sft.batch_size": 2, "sft.max_steps": 2,
         "sft.warmup_ratio": 0.0, "prefs.batch_size": 2, "prefs.max_steps": 2, "prefs.warmup_ratio": 0.0,
         "prefs.lr": 1e-3, "prefs.ref_batch_size": 4}


def _sft_rows(n):
    return [{"task": "Math_CoT", "dataset": "tiny-math", "instruction": f"What is {i} + {i}? End with Answer: <n>.",
             "response": f"Step 1: {i} + {i} = {2 * i}.\nAnswer: {2 * i}", "id": f"s{i}_1_1", "parent_id": f"s{i}"}
            for i in range(n)]


def test_trl_masks_the_prompt_and_its_loss_is_the_mean_over_response_tokens(tiny_policy, tiny_cfg):
    import torch

    from eurus_lib.course.sft_demo import split_by_loss, trl_sft_loss
    from eurus_lib.sft.data import to_examples

    model, tok = tiny_policy
    batch, loss = trl_sft_loss(model, tok, to_examples(_sft_rows(2)), tiny_cfg.sft, max_length=256, device="cpu")
    context, trained = split_by_loss(tok, batch["input_ids"][0], batch["labels"][0])
    i = next(i for i in range(2) if f"What is {i} + {i}?" in context)  # the batch's first row, whichever it is
    assert context.endswith("<|im_start|>assistant\n")
    assert trained.startswith(f"Step 1: {i} + {i} = {2 * i}.") and "What is" not in trained
    with torch.no_grad():
        expected = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         labels=batch["labels"]).loss
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)  # fp32 sums in another order


def test_the_sft_demo_trains_the_stage_function_into_the_notebook_folder(tmp_path):
    from eurus_lib.course.sft_demo import train_sft_demo

    cfg, _ = demo_config(load_config("tiny"), SMALL)
    run = RunDir.open(tmp_path, cfg)
    seen = []
    model, _, summary = train_sft_demo(cfg, run, _sft_rows(4), "cpu", on_record=seen.append)
    assert summary["steps"] == 2 and [r["step"] for r in seen] == [1, 2] and not model.training
    assert (tmp_path / "notebooks" / "02_sft" / "model" / "adapter_config.json").is_file()
    assert not (tmp_path / "sft").exists()


def test_preference_demo_runs_share_one_reference_and_leave_the_stage_folder_alone(tmp_path):
    from prefs_support import pair_rows

    from eurus_lib.course.prefs_demo import PreferenceDemo

    cfg, _ = demo_config(load_config("tiny"), SMALL)
    run = RunDir.open(tmp_path, cfg)
    demo = PreferenceDemo(cfg, run, "cpu", pair_rows(), n_pairs=4)
    assert not demo.from_sft and "base model" in demo.start_note
    info = demo.prepare()
    assert info["pairs"] == 4 and info["skipped"] == {"same": 1, "empty": 1, "too_long": 1}
    ref_file = tmp_path / "notebooks" / "03_preference_learning" / "reference_logps.jsonl"
    stamp = ref_file.stat().st_mtime_ns
    logs = {}
    for algo in ("nca", "kto"):
        cfg.prefs.algorithms = [algo]
        seen = []
        result = demo.run(on_record=seen.append)
        logs[algo] = seen
        assert result["algorithm"] == algo and [r["step"] for r in result["log"]] == [1, 2]
    assert ref_file.stat().st_mtime_ns == stamp  # the second run reused the reference, scored once
    for algo, seen in logs.items():
        assert [r["algorithm"] for r in seen] == [algo, algo]
        assert abs(seen[0]["rewards/chosen"]) < 1e-4 < abs(seen[1]["rewards/chosen"])  # step 1 is the reference
    assert not (tmp_path / "prefs").exists()
    assert not (tmp_path / "notebooks" / "03_preference_learning" / "01_nca" / "model").exists()
    assert [r["id"] for r in demo.reference_rows()] == [demo.pairs[i].id for b in demo.batches for i in b]
