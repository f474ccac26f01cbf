"""The course notebooks' library side: sample fallback, live views, the preference panel, without a model."""

from __future__ import annotations

import json

import pytest

from eurus_lib.config import load_config
from eurus_lib.course import demo_config, demo_steps, demo_trees, settings_line
from eurus_lib.course.live import REWARD_COLUMNS, LiveLog, draw_loss, draw_rewards
from eurus_lib.course.samples import (
    build_samples,
    heldout_source,
    pair_turn,
    pairs_source,
    round_robin,
    sft_policy,
    sft_source,
    stage_result,
)
from eurus_lib.errors import ConfigError, KitError
from eurus_lib.jsonl import read_jsonl, write_jsonl
from eurus_lib.runs import RunDir

PNG = b"\x89PNG"


def _sft(task, instruction, response, rid):
    return {"task": task, "dataset": "tiny", "instruction": instruction, "response": response, "id": rid,
            "parent_id": rid.split("_")[0]}


def _pair(task, turns, rid, chosen="Answer: 5", rejected="Answer: 6"):
    trajectory = [{"from": "user", "value": "Add 2 and 3."}]
    for _ in range(turns - 1):
        trajectory += [{"from": "assistant", "value": "Answer: 7"}, {"from": "user", "value": "Your answer is wrong."}]
    return {"task": task, "dataset": "tiny", "trajectory": trajectory, "chosen": chosen, "rejected": rejected,
            "id": rid, "parent_id": rid.split("_")[0]}


@pytest.fixture
def samples(tmp_path):
    """A samples folder like data/samples/, with a repeated SFT row, two pairs, a held-out problem, results."""
    folder = tmp_path / "samples"
    write_jsonl(folder / "sft.jsonl", [_sft("Math_PoT", "Add 2 and 3.", "print(2 + 3)", "a_2_1"),
                                       _sft("Math_PoT", "Add 2 and 3.", "print(2 + 3)", "a_2_2"),
                                       _sft("Logic", "Who lies?", "Ann", "b_1_1")])
    write_jsonl(folder / "pairs.jsonl", [_pair("Math_CoT", 1, "c_2_1"), _pair("Math_CoT", 2, "c_2_2")])
    write_jsonl(folder / "heldout.jsonl", [{"id": "h1", "family": "math", "task": "Math_CoT", "dataset": "tiny-math",
                                            "prompt": "What is 1 + 1?", "answer": "2"}])
    (folder / "results" / "prefs" / "dpo").mkdir(parents=True)
    (folder / "results" / "prefs" / "summary.json").write_text(json.dumps({"pairs": 2}))
    write_jsonl(folder / "results" / "prefs" / "dpo" / "log.jsonl", [{"step": 1, "rewards/chosen": -0.1}])
    return folder


@pytest.fixture
def empty_run(tmp_path):
    return RunDir.open(tmp_path / "run", load_config("tiny"))


def test_demo_steps_come_from_the_environment_when_set(monkeypatch):
    monkeypatch.delenv("EURUS_KIT_DEMO_STEPS", raising=False)
    assert demo_steps(4) == 4
    monkeypatch.setenv("EURUS_KIT_DEMO_STEPS", "2")
    assert demo_steps(4) == 2
    monkeypatch.setenv("EURUS_KIT_DEMO_STEPS", "two")
    with pytest.raises(ConfigError, match="whole number of steps"):
        demo_steps(4)


def test_demo_trees_come_from_the_environment_when_set(monkeypatch):
    monkeypatch.delenv("EURUS_KIT_DEMO_TREES", raising=False)
    assert demo_trees() == 8
    monkeypatch.setenv("EURUS_KIT_DEMO_TREES", "3")
    assert demo_trees() == 3
    monkeypatch.setenv("EURUS_KIT_DEMO_TREES", "0")
    with pytest.raises(ConfigError, match="whole number of trees"):
        demo_trees()


def test_a_demo_config_is_a_checked_copy_and_leaves_the_run_config_alone():
    cfg = load_config("tiny")
    demo, said = demo_config(cfg, {"sft.max_steps": 3, "model.lora_layers": 2})
    assert (demo.sft.max_steps, demo.model.lora_layers) == (3, 2)
    assert (cfg.sft.max_steps, cfg.model.lora_layers) == (-1, 10)  # tiny's own values, untouched
    assert said == "sft.max_steps=3, model.lora_layers=2"
    assert settings_line(demo, ["sft.max_steps", "sft.lr"]) == f"sft.max_steps=3, sft.lr={cfg.sft.lr}"
    with pytest.raises(ConfigError):
        demo_config(cfg, {"prefs.beta": -1.0})


def test_without_trees_the_sft_rows_come_from_the_sample_and_the_note_says_so(empty_run, samples):
    src = sft_source(empty_run, load_config("tiny").sft, samples)
    assert src.origin == "sample" and [r["id"] for r in src.rows] == ["a_2_1", "b_1_1"]
    assert "the trees stage has not run" in src.note and "2 distinct SFT rows (3 before repeats" in src.note


def test_with_trees_the_sft_rows_are_the_runs_own(empty_run, samples):
    write_jsonl(empty_run.path("trees", "sft.jsonl"), [_sft("Coding", "Write f.", "def f(): return 1", "d_1_1")])
    src = sft_source(empty_run, load_config("tiny").sft, samples)
    assert src.origin == "run" and [r["id"] for r in src.rows] == ["d_1_1"]
    assert "this run's trees stage" in src.note


def test_pairs_and_heldout_problems_fall_back_to_the_sample(empty_run, samples):
    pairs = pairs_source(empty_run, samples)
    assert pairs.origin == "sample" and len(pairs.rows) == 2 and "has not run" in pairs.note
    tasks = heldout_source(empty_run, load_config("tiny"), samples)
    assert tasks.origin == "sample" and tasks.rows[0].answer == "2"
    write_jsonl(empty_run.path("trees", "pairs.jsonl"), [_pair("Logic", 1, "e_1_1")])
    assert pairs_source(empty_run, samples).origin == "run"


def test_without_an_sft_policy_preference_learning_starts_from_the_base_model(empty_run):
    cfg = load_config("tiny")
    spec, said = sft_policy(empty_run, cfg)
    assert spec == cfg.model.policy and "base model" in said and "has not run" in said
    empty_run.path("sft", "model", "adapter_config.json").write_text("{}")
    spec, said = sft_policy(empty_run, cfg)
    assert spec == str(empty_run.root / "sft" / "model") and "SFT policy" in said


def test_stage_results_come_from_the_run_first_then_the_shipped_real_run(empty_run, samples):
    assert stage_result(empty_run, "sft", samples) is None
    shipped = stage_result(empty_run, "prefs", samples)
    assert shipped.origin == "sample" and shipped.logs == {"dpo": [{"step": 1, "rewards/chosen": -0.1}]}
    assert "has not run" in shipped.note
    empty_run.path("prefs", "summary.json").write_text(json.dumps({"pairs": 9}))
    write_jsonl(empty_run.path("prefs", "kto", "log.jsonl"), [{"step": 1}])
    own = stage_result(empty_run, "prefs", samples)
    assert own.origin == "run" and own.summary == {"pairs": 9} and list(own.logs) == ["kto"]


def test_round_robin_takes_each_bucket_in_turn_and_skips_long_rows():
    rows = [{"k": "a", "n": 1}, {"k": "a", "n": 2}, {"k": "a", "n": 3}, {"k": "b", "n": 4}, {"k": "b", "n": 99}]
    picked = round_robin(rows, lambda r: r["k"], n=4, max_chars=10, size=lambda r: r["n"])
    assert [r["n"] for r in picked] == [1, 4, 2, 3]


def test_build_samples_copies_a_balanced_sample_and_the_stage_results(tmp_path):
    run = tmp_path / "run"
    write_jsonl(run / "trees" / "sft.jsonl", [_sft(t, f"q{i}", "a", f"s{i}_1_1") for i, t in
                                              enumerate(["Math_PoT"] * 5 + ["Coding"] * 2)])
    write_jsonl(run / "trees" / "pairs.jsonl", [_pair("Logic", 1 + i % 2, f"p{i}_2_{1 + i % 2}") for i in range(6)])
    write_jsonl(run / "tasks" / "heldout.jsonl", [{"id": f"h{i}", "family": f, "task": "Logic"} for i, f in
                                                  enumerate(["math", "math", "code", "logic"])])
    (run / "sft").mkdir()
    (run / "sft" / "summary.json").write_text("{}")
    (run / "manifest.json").write_text(json.dumps({"preset": "tiny", "seed": 0, "versions": {"git_commit": "abc"}}))
    counts = build_samples(run, tmp_path / "out", n_sft=4, n_pairs=4, n_heldout=3)
    assert counts == {"sft": 4, "pairs": 4, "heldout": 3}
    assert [r["task"] for r in read_jsonl(tmp_path / "out" / "sft.jsonl")] == ["Math_PoT", "Coding"] * 2
    assert [pair_turn(r) for r in read_jsonl(tmp_path / "out" / "pairs.jsonl")] == [1, 2, 1, 2]
    assert [r["family"] for r in read_jsonl(tmp_path / "out" / "heldout.jsonl")] == ["math", "code", "logic"]
    assert (tmp_path / "out" / "results" / "sft" / "summary.json").is_file()
    assert "commit\n`abc`" in (tmp_path / "out" / "README.md").read_text()


def _reward_record(step, chosen):
    return {"step": step, "progress": step / 4, "algorithm": "dpo", "loss": 0.69, "rewards/chosen": chosen,
            "rewards/rejected": -0.02, "rewards/margins": chosen + 0.02, "rewards/accuracies": 0.5}


def test_a_live_log_keeps_every_step_and_draws_it_as_png_and_text():
    live = LiveLog(draw_rewards, REWARD_COLUMNS, total=4, title="DPO")
    assert "step 0/4" in live.status()
    live.update(_reward_record(1, 0.0))
    live.update(_reward_record(2, -0.01))
    assert live.step == 2 and "step 2/4" in live.status() and "chosen -0.0100" in live.status()
    assert live.png().startswith(PNG)
    text = live.text()
    assert "2 of 4 steps logged" in text and "margins" in text and text.splitlines()[-1].split()[0] == "2"
    loss = LiveLog(draw_loss, ["loss"], total=2)
    loss.update({"step": 1, "loss": 1.5})
    assert loss.png().startswith(PNG) and "loss +1.5000" in loss.status()


class FakeDemo:
    """A prepared PreferenceDemo stand-in: run() logs two steps through on_record, or fails like a bad config."""

    def __init__(self, cfg, fail=None):
        self.cfg, self.fail, self.runs, self.seen = cfg, fail, [], []

    def run(self, on_record=None):
        if self.fail:
            raise KitError(self.fail)
        p = self.cfg.prefs
        self.seen.append((p.algorithms[0], p.beta, p.lr, p.max_steps))
        log = [_reward_record(s, 0.01 * s) for s in range(1, p.max_steps + 1)]
        for r in log:
            on_record(r)
        result = {"algorithm": p.algorithms[0], "beta": p.beta, "lr": p.lr, "steps": p.max_steps, "log": log,
                  "summary": {"steps": p.max_steps, "seconds": 1.0}}
        self.runs.append(result)
        return result


def _field(panel, key):
    return next(c for c in panel.settings.children if getattr(c, "description", None) == key)


def test_the_panel_trains_with_what_its_widgets_say_and_updates_live():
    from eurus_lib.course.panel import PreferencePanel

    cfg, _ = demo_config(load_config("tiny"), {"prefs.max_steps": 2})
    demo = FakeDemo(cfg)
    panel = PreferencePanel(demo)
    panel.algorithm.value = "nca"
    _field(panel, "beta").value = "0.3"
    _field(panel, "max_steps").value = 3
    result = panel.run()
    assert demo.seen == [("nca", 0.3, cfg.prefs.lr, 3)] and result["algorithm"] == "nca"
    assert panel.progress.value == 3 and panel.progress.max == 3
    assert bytes(panel.plot.value).startswith(PNG) and panel.plot.layout.display is None
    assert "NCA β=0.3" in panel.status.value and "steps in 1 s" in panel.status.value
    assert "3 of 3 steps logged" in panel.text() and not panel.button.disabled


def test_the_panel_update_function_moves_the_bar_and_redraws_without_a_browser():
    from eurus_lib.course.panel import PreferencePanel

    panel = PreferencePanel(FakeDemo(demo_config(load_config("tiny"), {"prefs.max_steps": 4})[0]))
    panel.live = LiveLog(draw_rewards, REWARD_COLUMNS, total=4)
    panel.progress.max = 4
    panel.update(_reward_record(1, 0.0))
    first = panel.plot.value
    panel.update(_reward_record(2, 0.05))
    assert panel.progress.value == 2 and panel.plot.value != first and "step 2/4" in panel.status.value


def test_a_value_the_cli_would_reject_is_refused_by_the_panel_and_a_failed_run_says_why():
    from eurus_lib.course.panel import PreferencePanel

    cfg = demo_config(load_config("tiny"), {"prefs.max_steps": 2})[0]
    panel = PreferencePanel(FakeDemo(cfg, fail="prefs.max_steps=-1; set it to 1 or more."))
    _field(panel, "beta").value = "-1"
    assert cfg.prefs.beta == 0.1 and "prefs.beta" in panel.settings.children[-1].value
    assert panel.run() is None and "set it to 1 or more" in panel.status.value and not panel.button.disabled
