"""Run folders: manifest, per-stage status and timings, resume semantics, the report."""

import json

import pytest

from eurus_lib.config import load_config
from eurus_lib.report import render_report, write_report
from eurus_lib.runs import RunDir


def test_opening_a_run_writes_config_and_manifest(tmp_path):
    run = RunDir.open(tmp_path / "r", load_config("tiny"))
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert (tmp_path / "r" / "config.yaml").is_file()
    assert manifest["preset"] == "tiny" and manifest["seed"] == 0
    assert manifest["versions"]["torch"] and manifest["hardware"]["cpu_count"] >= 1
    assert run.path("trees", "x.jsonl").parent.is_dir()


def test_finished_stage_is_done_only_under_the_same_config(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    with run.stage("trees") as rec:
        rec["outputs"] = ["trees/sft.jsonl"]
    assert run.is_done("trees") and run.stage_record("trees")["seconds"] >= 0
    changed = RunDir.open(tmp_path, load_config("tiny", ["trees.max_turns=2"]))
    assert not changed.is_done("trees")


def test_a_failed_stage_is_recorded_and_not_done(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    with pytest.raises(RuntimeError):
        with run.stage("sft"):
            raise RuntimeError("out of memory")
    rec = RunDir.existing(tmp_path).stage_record("sft")
    assert rec["status"] == "failed" and "out of memory" in rec["error"] and not run.is_done("sft")


def test_existing_run_recovers_its_config(tmp_path):
    RunDir.open(tmp_path, load_config("tiny", ["sft.lr=1e-3"]))
    assert RunDir.existing(tmp_path).cfg.sft.lr == 1e-3


def test_report_names_every_stage_and_never_invents_results(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    md = render_report(run)
    for title in ("Preference trees", "Supervised fine-tuning", "DPO, KTO, NCA", "L_BT + L_DR", "Evaluation"):
        assert title in md
    assert "Not built yet" in md or "Not run in this folder yet" in md
    html = write_report(run)
    assert html.read_text().startswith("<!doctype html>") and (tmp_path / "report" / "report.md").is_file()
