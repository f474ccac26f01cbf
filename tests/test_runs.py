"""Run folders: manifest, per-stage settings digests, resume and set-aside semantics, the report."""

import json

import pytest

from eurus_lib import stages as stages_mod
from eurus_lib.config import load_config
from eurus_lib.errors import KitError
from eurus_lib.pipeline import run_stage
from eurus_lib.report import render_report, write_report
from eurus_lib.runs import RunDir
from eurus_lib.stages import STAGES, Stage, get_stage, stage_digest


def test_opening_a_run_writes_config_and_manifest(tmp_path):
    run = RunDir.open(tmp_path / "r", load_config("tiny"))
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert (tmp_path / "r" / "config.yaml").is_file()
    assert manifest["preset"] == "tiny" and manifest["seed"] == 0
    assert manifest["versions"]["torch"] and manifest["hardware"]["cpu_count"] >= 1
    assert run.path("trees", "x.jsonl").parent.is_dir()


def test_stage_names_are_one_name_everywhere():
    cfg = load_config("tiny")
    for stage in STAGES:
        assert hasattr(cfg, stage.name), f"no config section named {stage.name}"
        assert stage.module == f"eurus_lib.{stage.name}.stage"
        assert any(w.startswith(f"{stage.name}/") for w in stage.writes)


def _digests(overrides):
    cfg = load_config("tiny", overrides)
    return {s.name: stage_digest(s, cfg) for s in STAGES}


def test_an_eval_setting_changes_only_the_eval_digest():
    base, changed = _digests([]), _digests(["eval.best_of_n=1,2"])
    assert [n for n in base if base[n] != changed[n]] == ["eval"]


def test_a_held_out_scoring_setting_reruns_the_stages_that_score_policies():
    base, changed = _digests([]), _digests(["eval.max_problems=5"])
    assert [n for n in base if base[n] != changed[n]] == ["sft", "prefs", "rm", "eval"]


def test_a_trees_setting_reruns_trees_and_everything_that_reads_them():
    base, changed = _digests([]), _digests(["trees.max_turns=2"])
    assert [n for n in base if base[n] != changed[n]] == ["trees", "sft", "prefs", "rm", "eval"]


def test_an_sft_setting_leaves_tasks_and_trees_alone():
    base, changed = _digests([]), _digests(["sft.lr=5e-4"])
    assert [n for n in base if base[n] != changed[n]] == ["sft", "prefs", "rm", "eval"]


def test_finished_stage_is_done_only_under_the_same_digest_and_inputs(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    with run.stage("trees", "abc", {"tasks": "t1"}):
        pass
    rec = run.stage_record("trees")
    assert run.is_done("trees", "abc", {"tasks": "t1"}) and rec["seconds"] >= 0 and rec["output_id"]
    assert rec["peak_rss_gib"] > 0
    assert not run.is_done("trees", "abd", {"tasks": "t1"})
    assert not run.is_done("trees", "abc", {"tasks": "t2"})  # the tasks stage wrote new problems since


def test_a_failed_stage_is_recorded_and_not_done(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    with pytest.raises(RuntimeError):
        with run.stage("sft", "d"):
            raise RuntimeError("out of memory")
    rec = RunDir.existing(tmp_path).stage_record("sft")
    assert rec["status"] == "failed" and "out of memory" in rec["error"] and not run.is_done("sft", "d")
    assert run.can_resume("sft", "d") and not run.can_resume("sft", "other")


def test_existing_run_recovers_its_config(tmp_path):
    RunDir.open(tmp_path, load_config("tiny", ["sft.lr=5e-4"]))
    assert RunDir.existing(tmp_path).cfg.sft.lr == 5e-4  # not tiny's own value


class _Counting:
    """A stand-in stage body that writes one file and counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, cfg, run):
        self.calls += 1
        (run.path("sft", "out.txt")).write_text(f"call {self.calls}")
        return {"outputs": ["sft/out.txt"]}


@pytest.fixture
def fake_sft(monkeypatch):
    body = _Counting()
    monkeypatch.setattr(Stage, "is_built", lambda self: True)
    monkeypatch.setattr(Stage, "run_fn", property(lambda self: body))
    return get_stage("sft"), body


def _done(run, name):
    with run.stage(name, stage_digest(get_stage(name), run.cfg)):
        pass


def test_a_stage_is_skipped_when_nothing_it_reads_changed(tmp_path, fake_sft):
    stage, body = fake_sft
    run = RunDir.open(tmp_path, load_config("tiny"))
    for rel in stage.reads:
        run.path(rel).write_text("x")
    _done(run, "tasks")
    _done(run, "trees")
    run_stage(stage, run.cfg, run)
    run_stage(stage, run.cfg, run)
    assert body.calls == 1
    run2 = RunDir.open(tmp_path, load_config("tiny", ["eval.best_of_n=1,2"]))
    run_stage(stage, run2.cfg, run2)
    assert body.calls == 1  # an eval setting the stage does not read never retrains


def test_new_upstream_outputs_rerun_a_stage_and_set_its_old_outputs_aside(tmp_path, fake_sft):
    stage, body = fake_sft
    run = RunDir.open(tmp_path, load_config("tiny"))
    for rel in stage.reads:
        run.path(rel).write_text("x")
    _done(run, "tasks")
    _done(run, "trees")
    run_stage(stage, run.cfg, run)
    _done(run, "trees")  # trees finished again: new outputs, same settings
    run_stage(stage, run.cfg, run)
    assert body.calls == 2
    [old] = (tmp_path / "old").iterdir()
    assert (old / "sft" / "out.txt").read_text() == "call 1"
    assert (tmp_path / "sft" / "out.txt").read_text() == "call 2"


def test_an_interrupted_stage_resumes_in_place(tmp_path, fake_sft):
    stage, body = fake_sft
    run = RunDir.open(tmp_path, load_config("tiny"))
    for rel in stage.reads:
        run.path(rel).write_text("x")
    with pytest.raises(KeyboardInterrupt):
        with run.stage("sft", stage_digest(stage, run.cfg)):
            run.path("sft", "checkpoint").write_text("half")
            raise KeyboardInterrupt
    run_stage(stage, run.cfg, run)
    assert (tmp_path / "sft" / "checkpoint").read_text() == "half" and not (tmp_path / "old").exists()


def test_a_missing_input_names_the_stage_that_writes_it(tmp_path, fake_sft):
    stage, _ = fake_sft
    run = RunDir.open(tmp_path, load_config("tiny"))
    with pytest.raises(KitError, match="reads trees/sft.jsonl, which the trees stage writes; run `eurus-kit trees"):
        run_stage(stage, run.cfg, run)


def test_only_the_main_process_writes_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    run = RunDir.open(tmp_path / "r", load_config("tiny"))
    with run.stage("tasks", "d"):
        pass
    write_report(run)
    assert not (tmp_path / "r").exists()


def test_report_shows_no_results_for_stages_that_did_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(stages_mod.Stage, "is_built", lambda self: self.name in ("tasks", "trees"))
    run = RunDir.open(tmp_path, load_config("tiny"))
    md = render_report(run)
    for stage in STAGES:
        section = md.split(f"## {stage.title}\n", 1)[1].split("\n## ", 1)[0]
        body = [ln for ln in section.splitlines() if ln.strip() and not ln.startswith("*Paper:")]
        if stage.name in ("tasks", "trees"):
            assert body == [f"Not run in this folder yet: `eurus-kit {stage.name} --run-dir {tmp_path}`."]
        else:
            assert body == ["**Not built yet** in this version of the kit: no results are shown for this stage."]
    html = write_report(run)
    assert html.read_text().startswith("<!doctype html>") and (tmp_path / "report" / "report.md").is_file()


def test_report_records_time_and_peak_memory_per_stage(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    with run.stage("tasks", "d0"):
        pass
    md = render_report(run)
    row = next(ln for ln in md.splitlines() if ln.startswith("| tasks |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "done" and float(cells[2]) >= 0 and float(cells[3]) > 0 and cells[5] == "d0"


def test_a_stage_keeps_the_commit_it_ran_at_when_a_later_invocation_opens_the_run(tmp_path, monkeypatch):
    import eurus_lib.runs as runs

    monkeypatch.setattr(runs, "package_versions", lambda: {"git_commit": "aaaaaaa"})
    run = RunDir.open(tmp_path, load_config("tiny"))
    with run.stage("tasks", "d0"):
        pass
    monkeypatch.setattr(runs, "package_versions", lambda: {"git_commit": "bbbbbbb"})
    later = RunDir.open(tmp_path, load_config("tiny"))
    assert later.manifest["versions"]["git_commit"] == "bbbbbbb"
    assert later.stage_record("tasks")["git_commit"] == "aaaaaaa"
