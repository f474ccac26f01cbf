"""The shared helpers every stage uses: one progress bar (eurus_lib.progress) and one JSONL reader/writer (eurus_lib.jsonl)."""

from __future__ import annotations

import pytest
from trees_support import RIGHT, ScriptedActor, alternating, fake_executor, instruction, math_task, settings

from eurus_lib.errors import DataError
from eurus_lib.jsonl import iter_jsonl, read_jsonl, write_jsonl
from eurus_lib.progress import progress_bar


class Recorder:
    """Stands in for progress_bar and remembers each bar's description and how far it got."""

    def __init__(self):
        self.bars: list[dict] = []

    def __call__(self, total, desc, unit="it", enabled=True):
        bar = {"total": total, "desc": desc, "unit": unit, "enabled": enabled, "done": 0}
        self.bars.append(bar)

        class Bar:
            def update(self, n=1):
                bar["done"] += n

            def set_postfix_str(self, text):
                pass

            def close(self):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                pass

        return Bar()


def test_a_disabled_or_empty_bar_does_nothing_and_an_enabled_one_is_tqdm():
    from tqdm.auto import tqdm

    for bar in (progress_bar(5, "x", enabled=False), progress_bar(0, "x")):
        with bar as b:
            b.update()
            b.update(3)
            b.set_postfix_str("quiet")
        assert not isinstance(bar, tqdm)
    with progress_bar(2, "steps", unit="step") as bar:
        assert isinstance(bar, tqdm) and (bar.total, bar.desc, bar.unit) == (2, "steps", "step")
        bar.update(2)


def test_sandbox_runs_count_on_the_shared_bar(monkeypatch):
    from eurus_lib.sandbox import batch

    rec = Recorder()
    monkeypatch.setattr(batch, "progress_bar", rec)
    batch.run_many(["print(1)", "print(2)"], workers=2, progress=True)
    assert rec.bars == [{"total": 2, "desc": "sandbox runs", "unit": "run", "enabled": True, "done": 2}]


def test_tree_growth_counts_finished_trees_on_the_shared_bar(monkeypatch):
    from eurus_lib.trees import Environment, RuleCritic, growth

    rec = Recorder()
    monkeypatch.setattr(growth, "progress_bar", rec)
    growth.grow_trees([math_task(0), math_task(1)], actors=[ScriptedActor("a", alternating(RIGHT))],
                      environment=Environment(fake_executor), critic=RuleCritic(), settings=settings(),
                      instruction=instruction, progress=False)
    assert rec.bars == [{"total": 2, "desc": "trees", "unit": "tree", "enabled": False, "done": 2}]


def test_task_generation_counts_problems_on_the_shared_bar(monkeypatch):
    from eurus_lib.config import TasksSettings
    from eurus_lib.tasks import splits

    rec = Recorder()
    monkeypatch.setattr(splits, "progress_bar", rec)
    splits.generate_tasks(TasksSettings(n_train=4, n_heldout=2), seed=0, progress=True)
    assert rec.bars == [{"total": 6, "desc": "tasks", "unit": "task", "enabled": True, "done": 6}]


def test_unseeded_generation_draws_its_seed_from_torch_and_returns_texts_per_conversation(monkeypatch):
    import torch

    from eurus_lib.eval import sampling
    from eurus_lib.generation import generate_chat

    calls = []

    def fake_sample_n(model, tok, conversations, n, **kw):
        calls.append(kw)
        return [[{"response": f"{c[-1]['content']}:{k}"} for k in range(n)] for c in conversations]

    monkeypatch.setattr(sampling, "sample_n", fake_sample_n)
    conversations = [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "yo"}]]
    torch.manual_seed(3)
    out = generate_chat(None, None, conversations, n=2, batch_size=4, progress="sampling")
    torch.manual_seed(3)
    generate_chat(None, None, conversations, n=2, batch_size=4, progress=False)
    generate_chat(None, None, conversations, n=2, seed=11, progress=False)
    assert out == [["hi:0", "hi:1"], ["yo:0", "yo:1"]]
    assert calls[0]["seed"] == calls[1]["seed"] and calls[2]["seed"] == 11
    assert calls[0]["progress"] == "sampling" and calls[0]["batch_size"] == 4


def test_jsonl_round_trip_is_atomic_and_a_missing_file_reads_as_empty(tmp_path):
    path = tmp_path / "deep" / "rows.jsonl"
    assert read_jsonl(path) == [] and list(iter_jsonl(path)) == []
    assert write_jsonl(path, ({"k": k, "text": "é"} for k in range(3))) == 3
    assert read_jsonl(path) == [{"k": 0, "text": "é"}, {"k": 1, "text": "é"}, {"k": 2, "text": "é"}]
    assert sorted(p.name for p in path.parent.iterdir()) == ["rows.jsonl"]  # no temporary file left

    def failing():
        yield {"k": "new"}
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl(path, failing())
    assert [r["k"] for r in read_jsonl(path)] == [0, 1, 2]  # the previous file is whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["rows.jsonl"]


def test_a_line_that_is_not_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(DataError, match=r"rows\.jsonl, line 3: not a JSON row"):
        read_jsonl(path)


def test_loading_tasks_from_a_missing_file_says_what_to_do(tmp_path):
    from eurus_lib.tasks import load_tasks

    with pytest.raises(DataError, match="does not exist"):
        load_tasks(tmp_path / "train.jsonl")
