"""The SFT stage's data and verdict: distinct rows, family filter, the general-chat mix, the lift sentence."""

import json

import pytest

from eurus_lib.config import load_config
from eurus_lib.errors import KitError
from eurus_lib.runs import RunDir
from eurus_lib.sft.data import _chat_example, _to_messages, general_mix, sft_rows, to_examples
from eurus_lib.sft.stage import lift_verdict


def _row(task, instruction, response, rid):
    return {"task": task, "dataset": "tiny", "instruction": instruction, "response": response, "id": rid,
            "parent_id": rid.split("_")[0]}


@pytest.fixture
def run_with_rows(tmp_path):
    rows = [_row("Math_PoT", "Add 2 and 3.", "print(2 + 3)", "a_3_1"),
            _row("Math_PoT", "Add 2 and 3.", "print(2 + 3)", "a_3_2"),  # the same action at the next turn
            _row("Coding", "Write f.", "def f(): return 1", "b_1_1"),
            _row("Logic", "Who lies?", "Ann", "c_1_1")]
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return RunDir.open(tmp_path, load_config("tiny"))


def test_sft_trains_on_each_distinct_row_once(run_with_rows):
    rows = sft_rows(run_with_rows, load_config("tiny").sft)
    assert [r["id"] for r in rows] == ["a_3_1", "b_1_1", "c_1_1"]


def test_the_family_filter_keeps_only_those_rows(run_with_rows):
    rows = sft_rows(run_with_rows, load_config("tiny", ["sft.families=math,code"]).sft)
    assert [r["task"] for r in rows] == ["Math_PoT", "Coding"]


def test_no_rows_left_is_one_clear_error(run_with_rows):
    settings = load_config("tiny").sft
    (run_with_rows.root / "trees" / "sft.jsonl").write_text("")
    with pytest.raises(KitError, match="No SFT rows to train on"):
        sft_rows(run_with_rows, settings)


def test_examples_put_the_instruction_in_the_prompt_and_the_action_in_the_completion():
    [ex] = to_examples([_row("Coding", "Write f.", "def f(): return 1", "b_1_1")])
    assert ex == {"prompt": [{"role": "user", "content": "Write f."}],
                  "completion": [{"role": "assistant", "content": "def f(): return 1"}]}


def test_the_local_general_mix_is_shipped_and_announced(capsys):
    settings = load_config("tiny", ["sft.general_mix=local", "sft.general_rows=5"]).sft
    examples = general_mix(settings, seed=1)
    assert len(examples) == 5 and all(ex["completion"][0]["role"] == "assistant" for ex in examples)
    assert "offline general-chat mix" in capsys.readouterr().out
    assert general_mix(load_config("tiny").sft) == []


@pytest.mark.parametrize("row, first_user", [
    ({"id": "0", "data": ["Hi there", "Hello! How can I help?", "Tell a joke", "Why did..."]}, "Hi there"),
    ({"items": [{"from": "human", "value": "Q?"}, {"from": "gpt", "value": "A."}]}, "Q?"),
    ({"conversations": [{"from": "system", "value": "be nice"}, {"from": "human", "value": "Q2?"},
                        {"from": "gpt", "value": "A2."}]}, "Q2?"),
    ({"id": "niv.1", "system_prompt": "You are an AI assistant.", "question": "Q3?", "response": "A3."}, "Q3?"),
])
def test_hub_chat_rows_in_their_released_layouts_become_messages(row, first_user):
    messages = _to_messages(row)
    assert messages[0] == {"role": "user", "content": first_user} and messages[-1]["role"] == "assistant"
    ex = _chat_example({"messages": messages})
    assert ex["completion"] == messages[-1:] and ex["prompt"] == messages[:-1]


def _comparison(base, sft):
    from eurus_lib.eval.heldout import compare_policies

    def recs(flags):
        return [{"family": fam, "correct": c} for fam, cs in flags.items() for c in cs]
    return compare_policies({"base": recs(base), "sft": recs(sft)})


def test_the_verdict_names_families_lifted_beyond_the_intervals():
    c = _comparison({"math": [False] * 12, "code": [False] * 12}, {"math": [True] * 9 + [False] * 3, "code": [False] * 12})
    assert "beyond the intervals in: math" in lift_verdict(c) and "code" not in lift_verdict(c).split(":")[1]


def test_the_verdict_says_plainly_when_nothing_lifted():
    c = _comparison({"math": [False] * 12}, {"math": [True] + [False] * 11})
    assert lift_verdict(c).startswith("**SFT does not lift")
