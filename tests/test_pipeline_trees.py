"""Re-running the real trees stage through `run_stage`: changed settings and --force regrow the trees."""

import json

import pytest

from eurus_lib.config import load_config
from eurus_lib.pipeline import run_stage
from eurus_lib.runs import RunDir
from eurus_lib.stages import get_stage

SMALL = ["tasks.n_train=3", "tasks.n_heldout=3", "trees.max_trees=2", "trees.samples_per_turn=1",
         "trees.annotate_samples=0", "trees.max_new_tokens=16", "trees.batch_size=8"]


def _depths(run_dir):
    lines = (run_dir / "trees" / "trees.jsonl").read_text().splitlines()
    return sorted(len(json.loads(x)["turns"]) for x in lines)


@pytest.mark.slow
def test_changed_settings_and_force_regrow_the_trees(tmp_path):
    cfg = load_config("tiny", SMALL + ["trees.max_turns=2"])
    run = RunDir.open(tmp_path, cfg)
    run_stage(get_stage("tasks"), cfg, run)
    run_stage(get_stage("trees"), cfg, run)
    first = _depths(tmp_path)
    assert max(first) == 2 and len(first) == 2  # the tiny model is (almost) never right: trees go deep

    shallow = load_config("tiny", SMALL + ["trees.max_turns=1"])
    run = RunDir.open(tmp_path, shallow)
    summary = run_stage(get_stage("trees"), shallow, run)
    assert _depths(tmp_path) == [1, 1] and summary["trees"] == 2
    [old] = (tmp_path / "old").iterdir()
    assert sorted(len(json.loads(x)["turns"]) for x in (old / "trees" / "trees.jsonl").read_text().splitlines()) == first

    before = (tmp_path / "trees" / "trees.jsonl").stat().st_mtime_ns
    run_stage(get_stage("trees"), shallow, run)  # same settings, done: skipped
    assert (tmp_path / "trees" / "trees.jsonl").stat().st_mtime_ns == before
    run_stage(get_stage("trees"), shallow, run, force=True)
    assert len(list((tmp_path / "old").iterdir())) == 2 and _depths(tmp_path) == [1, 1]
    assert run.stage_record("trees")["status"] == "done"
