"""The eval stage's own wiring: the Table 3 analog from the training stages' records, best-of-N from judged samples."""

import json
from types import SimpleNamespace

from eurus_lib.config import load_config
from eurus_lib.eval import stage
from eurus_lib.jsonl import write_jsonl
from eurus_lib.runs import RunDir


def _records(flags, family="math"):
    return [{"id": f"p{i}", "family": family, "correct": c} for i, c in enumerate(flags)]


def test_the_table_gathers_every_policy_a_stage_scored(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    write_jsonl(tmp_path / "sft" / "heldout" / "base.jsonl", _records([False] * 4))
    write_jsonl(tmp_path / "sft" / "heldout" / "sft.jsonl", _records([True, False, False, False]))
    write_jsonl(tmp_path / "prefs" / "heldout" / "kto.jsonl", _records([True, True, False, False]))
    table = stage.gather_heldout(run)
    assert list(table["policies"]) == ["base", "sft", "kto"]
    assert [table["policies"][p]["all"]["correct"] for p in ("base", "sft", "kto")] == [0, 1, 2]


def test_policy_folders_list_only_the_policies_that_exist(tmp_path):
    run = RunDir.open(tmp_path, load_config("tiny"))
    (tmp_path / "sft" / "model").mkdir(parents=True)
    (tmp_path / "prefs" / "nca" / "model").mkdir(parents=True)
    assert list(stage.policy_folders(run)) == ["sft", "nca"]


def test_best_of_n_builds_the_curve_from_judged_samples(tmp_path, monkeypatch):
    cfg = load_config("tiny", ["eval.best_of_n=1,2", "rm.objectives=bt"])
    run = RunDir.open(tmp_path, cfg)
    samples = [[{"response": "a", "logprob": -1.0, "correct": False, "predicted": "1"},
                {"response": "b", "logprob": -0.5, "correct": True, "predicted": "2"}]] * 3
    monkeypatch.setattr(stage, "_samples", lambda *a: [list(g) for g in samples])
    tasks = [SimpleNamespace(id=f"p{i}", family="math") for i in range(3)]
    curve = stage.best_of_n(run, cfg, tasks=tasks, device="cpu")
    assert curve["N"] == [1, 2] and curve["oracle"] == [0.0, 1.0]
    assert curve["pass@1"]["top logprob"] == [0.0, 1.0]  # the second answer has the higher log-probability
    assert json.loads((tmp_path / "eval" / "best_of_n.json").read_text()) == curve


def test_best_of_n_reranks_by_each_trained_reward_model(tmp_path, monkeypatch):
    import eurus_lib.eval.scoring as scoring
    import eurus_lib.rm as rm

    cfg = load_config("tiny", ["eval.best_of_n=1,2", "rm.objectives=bt+dr"])
    run = RunDir.open(tmp_path, cfg)
    (tmp_path / "rm" / "bt+dr" / "model").mkdir(parents=True)
    samples = [[{"response": "a", "logprob": -0.5, "correct": False, "predicted": "1"},
                {"response": "b", "logprob": -1.0, "correct": True, "predicted": "2"}] for _ in range(3)]
    monkeypatch.setattr(stage, "_samples", lambda *a: samples)
    monkeypatch.setattr(rm, "load_trained_reward_model", lambda *a: (None, None))
    monkeypatch.setattr("eurus_lib.trunk.shares_trunk", lambda model, k: False)  # scored one by one, stubbed below
    monkeypatch.setattr(scoring, "reward_scores", lambda rm, tok, prompts, responses, **kw:
                        [1.0 if r == "b" else -1.0 for r in responses])  # the model prefers the correct answer
    tasks = [SimpleNamespace(id=f"p{i}", family="math", task="Math_CoT", prompt="1 + 1?") for i in range(3)]
    monkeypatch.setattr("eurus_lib.eval.heldout.conversation", lambda t: [{"role": "user", "content": t.prompt}])
    curve = stage.best_of_n(run, cfg, tasks=tasks, device="cpu")
    assert curve["pass@1"]["RM reward:bt+dr"] == [0.0, 1.0]  # picks the second answer once it is among the N
    assert curve["pass@1"]["top logprob"] == [0.0, 0.0]


def test_multi_turn_starts_from_the_held_out_answers_its_stage_wrote(tmp_path):
    from eurus_lib.jsonl import write_jsonl

    run = RunDir.open(tmp_path, load_config("tiny"))
    write_jsonl(tmp_path / "prefs" / "heldout" / "kto.jsonl", [{"id": "p1", "response": "b"}, {"id": "p0", "response": "a"}])
    write_jsonl(tmp_path / "sft" / "heldout" / "base.jsonl", [{"id": "p0", "response": "x"}])
    tasks = [SimpleNamespace(id="p0"), SimpleNamespace(id="p1")]
    assert stage._heldout_answers(run, "kto", tasks) == ["a", "b"]
    assert stage._heldout_answers(run, "base", tasks) is None  # p1 was never answered: turn 1 is generated
    assert stage._heldout_answers(run, "nca", tasks) is None
