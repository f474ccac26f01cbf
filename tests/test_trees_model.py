"""The real tiny model grows a few small trees through the `tasks` and `trees` stages (sandbox, rule critic, files, report)."""

import json

import pytest

from eurus_lib.config import load_config
from eurus_lib.runs import RunDir
from eurus_lib.tasks import stage as tasks_stage
from eurus_lib.trees import stage
from eurus_lib.ultrainteract import PAIR_FIELDS, SFT_FIELDS

OVERRIDES = ["tasks.families=math,code,logic", "tasks.n_train=6", "tasks.n_heldout=3", "trees.max_trees=3", "trees.max_turns=2",
             "trees.samples_per_turn=2", "trees.annotate_samples=1", "trees.max_new_tokens=40",
             "trees.batch_size=16"]


@pytest.mark.slow
def test_tiny_model_grows_trees_through_the_stage_and_resumes(tmp_path):
    cfg = load_config("tiny", OVERRIDES)
    run = RunDir.open(tmp_path, cfg)
    tasks_stage.run(cfg, run)  # the trees stage grows one tree per problem of tasks/train.jsonl
    summary = stage.run(cfg, run)
    trees = [json.loads(x) for x in (tmp_path / "trees" / "trees.jsonl").read_text().splitlines()]
    assert summary["trees"] == len(trees) == 3
    assert {t["task"]["family"] for t in trees} == {"math", "code", "logic"}
    actions = [a for t in trees for turn in t["turns"] for a in turn["actions"]]
    sampled = [a for a in actions if a["source"] == "sampled"]
    assert len(sampled) >= 6 and {a["actor"] for a in sampled} == {"smollm2-135m"}
    assert all(turn["chosen"] is not None for t in trees for turn in t["turns"])  # the fallbacks always find one
    sft = [json.loads(x) for x in (tmp_path / "trees" / "sft.jsonl").read_text().splitlines()]
    pairs = [json.loads(x) for x in (tmp_path / "trees" / "pairs.jsonl").read_text().splitlines()]
    assert sft and all(tuple(r) == SFT_FIELDS for r in sft) and all(tuple(r) == PAIR_FIELDS for r in pairs)
    assert set(summary["sources"]) <= {"sampled:smollm2-135m", "annotated:smollm2-135m", "ground_truth"}
    text = stage.report(run)
    assert "| Total | 3 |" in text and "../figures/trees_example.png" in text
    assert (tmp_path / "figures" / "trees_example.png").is_file()
    again = stage.run(cfg, run)  # everything already grown: nothing is sampled, nothing duplicated
    assert again["trees"] == 3 and len((tmp_path / "trees" / "trees.jsonl").read_text().splitlines()) == 3


@pytest.mark.slow
def test_model_critic_writes_a_critique_with_the_tiny_model(tiny_policy):
    from trees_support import WRONG, math_task, run_subprocess

    from eurus_lib.trees import CritiqueRequest, Environment, ModelCritic, rule_critique

    model, tok = tiny_policy
    [outcome] = Environment(run_subprocess).assess([math_task()], [WRONG])
    request = CritiqueRequest(math_task(), WRONG, outcome)
    critic = ModelCritic("smollm2-135m", model, tok, max_new_tokens=24)
    [own] = critic.model_critiques([request])  # greedy: the same text each time
    [text] = critic.critique_many([request])
    assert own.strip() and text == own.strip() and critic.fallbacks == 0  # the model's text, not the stand-in
    assert text != rule_critique(request.task, request.action, request.outcome)


def test_the_rule_critique_stands_in_only_for_an_empty_model_critique_and_is_counted(monkeypatch):
    from trees_support import WRONG, math_task, run_subprocess

    from eurus_lib import generation
    from eurus_lib.trees import CritiqueRequest, Environment, ModelCritic, rule_critique

    [outcome] = Environment(run_subprocess).assess([math_task()], [WRONG])
    request = CritiqueRequest(math_task(), WRONG, outcome)
    replies = iter([[[" Multiply? No: add the apples. "], ["  \n"]]])
    monkeypatch.setattr(generation, "generate_chat", lambda *a, **kw: next(replies))
    critic = ModelCritic("fake", model=None, tokenizer=None)
    said, silent = critic.critique_many([request, request])
    assert said == "Multiply? No: add the apples." and critic.fallbacks == 1
    assert silent == rule_critique(request.task, request.action, request.outcome)
