"""Notebooks 04-06's library side without a model: shipped results, the reward panel, the best-of-N slider, notebook 06."""

from __future__ import annotations

import json

import pytest

from eurus_lib.config import load_config
from eurus_lib.course import reproduced
from eurus_lib.course.bon_demo import BestOfNSlider, curve_source, picks_at, picks_markdown
from eurus_lib.course.rm_demo import split_pairs, view_summary
from eurus_lib.course.rm_panel import RewardPanel, RewardView
from eurus_lib.course.samples import build_samples, stage_result
from eurus_lib.jsonl import read_jsonl, write_jsonl
from eurus_lib.runs import RunDir
from eurus_lib.verdicts import NOT_MEASURED

PNG = b"\x89PNG"
CURVE = {"N": [1, 2, 4], "problems": 4, "pass@1": {"random": [0.25, 0.25, 0.5], "top logprob": [0.25, 0.25, 0.25],
                                                 "self-consistency": [0.25, 0.25, 0.5],
                                                 "RM reward:bt+dr": [0.25, 0.5, 0.75]},
         "oracle": [0.25, 0.75, 1.0]}


def _scored(pairs):
    return [{"id": f"p{i}", "family": "math", "kind": "ground_truth", "chosen_reward": c, "rejected_reward": r}
            for i, (c, r) in enumerate(pairs)]


def _pair(i, chars):
    return {"id": f"t{i}", "task": "Coding", "trajectory": [{"from": "user", "value": "x" * chars}],
            "chosen": "a", "rejected": "b"}


@pytest.fixture
def empty_run(tmp_path):
    return RunDir.open(tmp_path / "run", load_config("tiny"))


def _real_run_layout(root):
    """A run folder with the files the stages write, filled with made-up numbers (the layout is what is tested)."""
    (root / "trees").mkdir(parents=True, exist_ok=True)
    (root / "trees" / "stats.json").write_text(json.dumps({
        "table": [{"task": "Total", "instructions": 2, "T1": 1, "T2": 1, "tokens_per_traj": 10.0, "pairs": 3,
                   "correct": 2},
                  {"task": "Coding", "instructions": 2, "T1": 1, "T2": 1, "tokens_per_traj": 10.0, "pairs": 3,
                   "correct": 2}],
        "per_turn": [{"turn": 1, "trees": 2, "sampled": 2, "sampled_correct": 0, "share_correct": 0.0, "pairs": 2}],
        "sources": {}, "ends": {}, "rows": {"pairs.jsonl": 3}, "max_turns": 2}))
    summary = {"objectives": {o: {"eval": {"all": {"n": 2, "correct": 1, "accuracy": 0.5, "low": 0.1, "high": 0.9,
                                                  "chosen_positive": 0.5, "rejected_negative": 0.5, "both_signs": 0.5,
                                                  "mean_chosen": 0.1, "mean_rejected": -0.1}}}
                              for o in ("bt+dr", "bt", "dr")}, "groups": ["all"]}
    (root / "rm").mkdir(exist_ok=True)
    (root / "rm" / "summary.json").write_text(json.dumps(summary))
    for o in ("bt+dr", "bt", "dr"):
        write_jsonl(root / "rm" / o / "log.jsonl", [{"step": 1, "rewards/chosen": 0.1}])
        write_jsonl(root / "rm" / o / "heldout_scores.jsonl", _scored([(0.5, -0.5), (-0.2, 0.1)]))
    (root / "eval").mkdir(exist_ok=True)
    (root / "eval" / "heldout.json").write_text(json.dumps({"groups": ["all"], "policies": {"sft": {"all": {
        "n": 4, "correct": 1, "accuracy": 0.25, "low": 0.05, "high": 0.7}}}}))
    (root / "eval" / "best_of_n.json").write_text(json.dumps(CURVE))
    (root / "eval" / "multiturn.json").write_text(json.dumps({"sft": [0.25, 0.5], "kto": [0.25, 0.75]}))
    write_jsonl(root / "eval" / "multiturn" / "sft.jsonl", [{"id": "h1", "family": "math", "task": "Math_CoT",
                                                            "solved_turn": 2, "turns": [{"response": "long " * 50}]}])


def test_the_samples_builder_ships_trees_rm_and_eval_results_with_slim_multiturn_records(tmp_path):
    run = tmp_path / "run"
    write_jsonl(run / "trees" / "sft.jsonl", [])
    write_jsonl(run / "trees" / "pairs.jsonl", [])
    write_jsonl(run / "tasks" / "heldout.jsonl", [])
    _real_run_layout(run)
    build_samples(run, tmp_path / "out")
    results = tmp_path / "out" / "results"
    assert (results / "trees" / "stats.json").is_file() and (results / "eval" / "best_of_n.json").is_file()
    assert (results / "rm" / "bt" / "heldout_scores.jsonl").is_file() and (results / "rm" / "dr" / "log.jsonl").is_file()
    assert read_jsonl(results / "eval" / "multiturn" / "sft.jsonl") == [
        {"id": "h1", "family": "math", "task": "Math_CoT", "solved_turn": 2}]  # the answers are left behind


def test_a_stage_result_reads_its_main_file_logs_and_other_files(empty_run, tmp_path):
    samples = tmp_path / "samples"
    _real_run_layout(samples / "results")
    rm = stage_result(empty_run, "rm", samples)
    assert rm.origin == "sample" and set(rm.logs) == {"bt+dr", "bt", "dr"}
    assert len(rm.read("bt/heldout_scores.jsonl")) == 2 and rm.read("bt/missing.jsonl") is None
    ev = stage_result(empty_run, "eval", samples)
    assert ev.summary["policies"]["sft"]["all"]["n"] == 4 and ev.read("best_of_n.json") == CURVE
    assert stage_result(empty_run, "trees", samples).summary["rows"] == {"pairs.jsonl": 3}


def test_notebook_06_says_what_to_run_for_every_section_of_an_empty_run(empty_run, tmp_path):
    sections = reproduced.sections(empty_run, tmp_path / "no_samples")
    assert [s.stage for s in sections] == ["trees", "prefs", "eval", "rm", "eval", "eval"]
    assert not any(s.measured for s in sections)
    assert all(s.note.startswith(f"not measured: run `eurus-kit {s.stage}`") for s in sections)
    assert reproduced.shipped_verdicts(tmp_path / "no_samples") is None


def test_notebook_06_shows_a_shipped_run_beside_the_paper_and_says_where_it_came_from(empty_run, tmp_path):
    samples = tmp_path / "samples"
    _real_run_layout(samples / "results")
    by_title = {s.title.split(":")[0].split(" /")[0]: s for s in reproduced.sections(empty_run, samples)}
    assert not by_title["Figure 5"].measured  # no prefs results shipped
    for key in ("Table 1", "Table 3", "Table 4", "Figure 4", "MINT analog"):
        section = by_title[key]
        assert section.measured and "has not run" in section.note and "data/samples" not in section.note[:5]
        assert section.figure().axes  # each draws its figure
    assert "85,918" in by_title["Table 1"].markdown  # the paper's total beside ours
    assert "87.0" in by_title["Table 4"].markdown and "57.3" in by_title["Figure 4"].markdown
    assert "| kto | 25.0 | 75.0 |" in by_title["MINT analog"].markdown and "43.6" in by_title["MINT analog"].markdown
    rows = {r["claim"][:20]: r["status"] for r in reproduced.shipped_verdicts(samples)}
    assert list(rows.values()).count(NOT_MEASURED) < len(rows)


def test_the_rm_demo_watches_held_back_sample_pairs_shortest_first(empty_run):
    rows = [_pair(i, chars) for i, chars in enumerate([50, 10, 40, 20, 30])]
    train, view, note = split_pairs(empty_run, rows, n_view=2)
    # by length: t1 t3 t4 t2 t0; every other one of the first 2 x 2 is watched, the rest trains
    assert [p["id"] for p in view] == ["t3", "t2"] and [r["id"] for r in train] == ["t1", "t4", "t0"]
    assert view[0]["family"] == "code" and "held back" in note
    write_jsonl(empty_run.path("rm", "heldout_pairs.jsonl"),
                [{"id": "h1", "kind": "ground_truth", "prompt": [{"role": "user", "content": "q"}], "chosen": "a",
                  "rejected": "b", "family": "math"}, {"id": "h2", "kind": "policy", "prompt": [], "chosen": "a",
                                                       "rejected": "b", "family": "math"}])
    train, view, note = split_pairs(empty_run, rows, n_view=2)
    assert [p["id"] for p in view] == ["h1"] and len(train) == 5 and "held-out" in note


def test_a_reward_view_draws_each_step_and_says_what_signs_the_rewards_have():
    view = RewardView(_scored([(0.1, 0.2), (0.0, 0.1)]), total=2, title="BT+DR")
    view.record({"step": 1, "loss": 1.25})
    view.update(1, _scored([(0.5, -0.5), (0.3, -0.1)]))
    assert view.step == 1 and view.png().startswith(PNG)
    assert "step 1/2 · loss 1.2500 · pair acc. 100%" in view.status() and "rejected < 0: 100%" in view.status()
    assert view_summary(view.views[0]).startswith("pair acc. 0%")
    last = view.text().splitlines()[-1].split()
    assert last[:3] == ["1", "1.2500", "100%"]


class FakeRewardDemo:
    """A prepared RewardDemo stand-in: run() reports two steps, as the real one does after each optimizer step."""

    def __init__(self, cfg):
        self.cfg, self.untrained, self.runs = cfg, _scored([(0.0, 0.1)]), []

    def run(self, on_record=None, on_scores=None):
        for step in (1, 2):
            on_record({"step": step, "loss": 1.0 / step})
            on_scores(step, _scored([(0.2 * step, -0.1 * step)]))
        result = {"objective": self.cfg.rm.objectives[0], "lr": self.cfg.rm.lr, "steps": 2,
                  "summary": {"steps": 2, "seconds": 3.0}, "views": [self.untrained], "log": []}
        self.runs.append(result)
        return result


def test_the_reward_panel_trains_the_chosen_objective_and_redraws_after_each_step():
    cfg = load_config("tiny", ["rm.max_steps=2"])
    panel = RewardPanel(FakeRewardDemo(cfg))
    panel.objective.value = "dr"
    assert cfg.rm.objectives == ["dr"]  # through config.set_value
    result = panel.run()
    assert result["objective"] == "dr" and panel.progress.value == 2 and bytes(panel.plot.value).startswith(PNG)
    assert "DR lr=0.001: 2 steps in 3 s" in panel.status.value and "step 2/2" in panel.status.value
    assert "DR lr=0.001: 2 of 2 steps, 1 view pairs" in panel.text()


def test_the_best_of_n_slider_redraws_the_curves_and_the_picks_at_the_chosen_n():
    assert picks_at(CURVE, 2)[0] == ("RM reward:bt+dr", 0.5) and picks_at(CURVE, 2)[-1] == ("oracle pass@N", 0.75)
    assert [name for name, _ in picks_at(CURVE, 4)][:2] == ["RM reward:bt+dr", "random"]  # best first
    assert "| RM reward:bt+dr | 50.0 |" in picks_markdown(CURVE, 2)
    slider = BestOfNSlider(CURVE)
    assert slider.slider.value == 4 and "75.0" in slider.table.value
    slider.slider.value = 1
    assert "<td>25.0</td>" in slider.table.value and bytes(slider.plot.value).startswith(PNG)
    assert slider.text().splitlines()[-1].split() == ["oracle", "pass@N", "25.0%", "75.0%", "100.0%"]


def test_the_best_of_n_shown_is_the_runs_then_the_shipped_then_the_live_one(empty_run, tmp_path, monkeypatch):
    import eurus_lib.course.samples as samples_module

    monkeypatch.setattr(samples_module, "SAMPLES", tmp_path / "none")
    monkeypatch.setattr(samples_module.stage_result, "__defaults__", (tmp_path / "none",))
    assert curve_source(empty_run) is None
    live = {"curve": dict(CURVE, problems=2)}
    assert curve_source(empty_run, live).origin == "live"
    empty_run.path("eval", "heldout.json").write_text(json.dumps({"groups": [], "policies": {}}))
    empty_run.path("eval", "best_of_n.json").write_text(json.dumps(CURVE))
    shown = curve_source(empty_run, live)
    assert shown.origin == "run" and shown.curve == CURVE and "4 problems" in shown.note


def test_the_claim_explorer_shows_each_verdict_with_the_section_that_holds_its_evidence(empty_run, tmp_path):
    from eurus_lib.verdicts import ROWS, verdict_rows

    samples = tmp_path / "samples"
    _real_run_layout(samples / "results")
    assert len(reproduced.CLAIM_SECTIONS) == len(ROWS)
    explorer = reproduced.ClaimExplorer(empty_run, verdict_rows(empty_run), samples)
    assert "not measured" in explorer.detail.value and "Table 1: the preference trees" in explorer.detail.value
    explorer.claim.value = 4  # adding L_DR: the rm stage's Table 4, from the shipped run
    assert "Table 4" in explorer.detail.value and "87.0" in explorer.detail.value
    assert bytes(explorer.plot.value).startswith(PNG) and explorer.plot.layout.display is None
    explorer.claim.value = 2  # figure 5: no prefs results anywhere
    assert "not measured: run <code>eurus-kit prefs</code>" in explorer.detail.value
    assert explorer.plot.layout.display == "none"
    assert explorer.text().splitlines()[4].endswith("not measured (evidence: table4)")
