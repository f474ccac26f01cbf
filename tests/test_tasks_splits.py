"""Splits: sizes, determinism, the paper's 8-gram decontamination, HumanEval and JSONL round trips."""

from __future__ import annotations

import dataclasses
import random

import pytest
from tasks_support import run_code_tasks

from eurus_lib.config import TasksSettings, load_config
from eurus_lib.errors import ConfigError, DataError
from eurus_lib.tasks import (
    code_task,
    decontaminate,
    generate_tasks,
    humaneval_tasks,
    load_tasks,
    logic_task,
    math_task,
    ngrams,
    save_tasks,
)


@pytest.fixture(scope="module")
def tiny_splits():
    return generate_tasks(load_config("tiny").tasks, seed=0)


def test_tiny_preset_gives_the_configured_counts_balanced_over_families(tiny_splits):
    settings = load_config("tiny").tasks
    assert len(tiny_splits.train) == settings.n_train
    assert len(tiny_splits.heldout) == settings.n_heldout + settings.humaneval_heldout  # HumanEval joins held-out
    families = [t.family for t in tiny_splits.train]
    per_family = settings.n_train // len(settings.families)
    assert {f: families.count(f) for f in set(families)} == {f: per_family for f in settings.families}
    assert families[:len(settings.families)] == settings.families  # interleaved: any prefix is balanced


def test_the_same_seed_gives_the_same_splits_and_another_seed_other_problems(tiny_splits):
    settings = load_config("tiny").tasks
    again, other = generate_tasks(settings, seed=0), generate_tasks(settings, seed=1)
    assert [t.id for t in again.train] == [t.id for t in tiny_splits.train]
    assert [t.id for t in again.heldout] == [t.id for t in tiny_splits.heldout]
    assert not {t.id for t in other.train} & {t.id for t in tiny_splits.train}


def test_no_training_problem_shares_an_8_gram_with_a_heldout_one(tiny_splits):
    report = tiny_splits.report
    assert report.final_overlap == 0 and report.n == 8
    held = set().union(*(ngrams(t.prompt) for t in tiny_splits.heldout))
    assert all(not ngrams(t.prompt) & held for t in tiny_splits.train)
    assert report.candidates == len(tiny_splits.train) + report.removed + report.duplicates


def test_decontamination_removes_planted_overlaps():
    rng = random.Random(0)
    heldout = [math_task(rng, 3, pool="heldout") for _ in range(5)]
    train = [math_task(rng, 3) for _ in range(10)]
    shared = " ".join(heldout[2].prompt.split()[4:12])  # 8 tokens of a held-out problem
    planted = dataclasses.replace(train[3], prompt=f"Note: {shared.upper()} and more.", id="planted")
    exact = dataclasses.replace(heldout[0], id="copy")
    kept, removed = decontaminate(train + [planted, exact], heldout)
    assert {t.id for t in removed} == {"planted", "copy"}
    assert len(kept) == 10


def test_seven_shared_tokens_are_not_an_overlap():
    rng = random.Random(1)
    heldout = [math_task(rng, 3, pool="heldout")]
    seven = " ".join(heldout[0].prompt.split()[:7])
    probe = dataclasses.replace(math_task(rng, 3), prompt=f"Zzz {seven} zzz.")
    assert decontaminate([probe], heldout)[1] == []


@pytest.mark.parametrize("generator", [math_task, code_task, logic_task])
def test_train_and_heldout_pools_share_no_8_gram_at_any_difficulty(generator):
    for d in (1, 3, 5):
        n = 6 if generator is logic_task and d == 5 else 40
        train = [generator(random.Random(f"a{d}{i}"), d) for i in range(n)]
        heldout = [generator(random.Random(f"b{d}{i}"), d, pool="heldout") for i in range(n)]
        assert decontaminate(train, heldout)[1] == []


def test_generation_keeps_drawing_until_removed_problems_are_replaced(monkeypatch):
    from eurus_lib.tasks import splits

    real = splits.first_shared
    calls = {"n": 0}

    def every_third_is_contaminated(task, index, n):
        calls["n"] += 1
        return (("x",) * 8, "h") if calls["n"] % 3 == 0 else real(task, index, n)

    monkeypatch.setattr(splits, "first_shared", every_third_is_contaminated)
    result = generate_tasks(TasksSettings(n_train=12, n_heldout=3), seed=0)
    assert len(result.train) == 12
    assert result.report.removed == result.report.candidates - 12 > 0
    assert result.report.examples[0]["heldout"] == "h"
    assert f"{result.report.removed} removed" in result.report.summary()


def test_humaneval_gives_164_code_tasks_whose_canonical_solutions_pass():
    tasks = humaneval_tasks()
    assert len(tasks) == 164
    first = tasks[0]
    assert first.meta["task_id"] == "HumanEval/0" and first.entry_point == "has_close_elements"
    assert first.task == "Coding" and first.dataset == "humaneval" and "def check(candidate)" in first.tests
    assert first.solution.startswith(first.prompt)
    sample = tasks[::20]
    assert [r.passed for r in run_code_tasks(sample)] == [True] * len(sample)
    assert len(humaneval_tasks(5)) == 5


def test_humaneval_heldout_is_appended_and_decontaminated_against():
    settings = TasksSettings(n_train=6, n_heldout=3, humaneval_heldout=10)
    result = generate_tasks(settings, seed=0)
    assert len(result.heldout) == 13
    assert sum(t.dataset == "humaneval" for t in result.heldout) == 10
    assert result.report.heldout == 13 and result.report.final_overlap == 0


def test_tasks_round_trip_through_jsonl(tiny_splits, tmp_path):
    path = save_tasks(tiny_splits.train, tmp_path / "tasks" / "train.jsonl")
    loaded = load_tasks(path)
    assert loaded == tiny_splits.train
    assert [t.meta for t in loaded] == [t.meta for t in tiny_splits.train]


def test_splits_round_trip_through_a_folder_and_say_where_they_went(tiny_splits, tmp_path, capsys):
    from eurus_lib.tasks import load_splits, save_splits

    paths = save_splits(tiny_splits, tmp_path / "tasks")
    assert sorted(p.name for p in paths.values()) == ["decontamination.json", "heldout.jsonl", "train.jsonl"]
    assert str(tmp_path / "tasks") in capsys.readouterr().out
    back = load_splits(tmp_path / "tasks")
    assert back.train == tiny_splits.train and back.heldout == tiny_splits.heldout
    assert back.report == tiny_splits.report


def test_a_bad_task_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "family": "math"}\nnot json\n')
    with pytest.raises(DataError, match="line 1"):
        load_tasks(path)


def test_unknown_families_and_impossible_counts_are_clear_errors(monkeypatch):
    from eurus_lib.tasks import splits

    with pytest.raises(ConfigError, match="choose from"):
        generate_tasks(TasksSettings(families=["poetry"]), seed=0)
    same = logic_task(random.Random(0), 1)
    monkeypatch.setitem(splits.GENERATORS, "logic", lambda *args, **kwargs: same)
    with pytest.raises(DataError, match="Only 1 of 5 distinct training logic problems"):
        generate_tasks(TasksSettings(families=["logic"], n_train=5, n_heldout=0), seed=0)
