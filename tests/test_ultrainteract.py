"""Released-format UltraInteract rows: loading, schema errors, TRL converters (RM augmentation: test_rm_augmentation.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from eurus_lib.errors import DataError
from eurus_lib.ultrainteract import (
    PAIR_FIELDS,
    SFT_FIELDS,
    action_slots,
    group_trees,
    load_ultrainteract_pair,
    load_ultrainteract_sft,
    pair_to_dpo,
    pair_to_kto,
    parse_pair_id,
    sft_to_messages,
    to_dpo_dataset,
    to_kto_dataset,
    to_sft_dataset,
    validate_pair_row,
    validate_rows,
    validate_sft_row,
)

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"
PAIR_FILE, SFT_FILE = FIXTURES / "ultrainteract_pair_sample.jsonl", FIXTURES / "ultrainteract_sft_sample.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def pairs():
    return _rows(PAIR_FILE)


@pytest.fixture
def sft_rows():
    return _rows(SFT_FILE)


def test_fixtures_follow_the_released_schemas_exactly(pairs, sft_rows):
    assert all(tuple(r) == PAIR_FIELDS for r in pairs) and all(tuple(r) == SFT_FIELDS for r in sft_rows)
    validate_rows(pairs, "pair")
    validate_rows(sft_rows, "sft")
    assert {r["task"] for r in pairs} == {"Math_PoT", "Coding", "Logic"}
    assert {r["task"] for r in sft_rows} == {"Coding", "Math_CoT", "Math_PoT", "Logic"}
    assert any(r["id"].endswith("_5_3") for r in pairs)


def test_local_jsonl_loads_through_datasets_and_validates(pairs):
    ds = load_ultrainteract_pair(PAIR_FILE)
    assert len(ds) == len(pairs) and ds.column_names == list(PAIR_FIELDS)
    assert ds[4]["trajectory"][3] == pairs[4]["trajectory"][3]
    sft = load_ultrainteract_sft(SFT_FILE, limit=2)
    assert len(sft) == 2 and sft.column_names == list(SFT_FIELDS)


def test_local_parquet_loads_like_the_released_pair_file(pairs, tmp_path):
    from datasets import Dataset

    path = tmp_path / "0000_pair.parquet"
    Dataset.from_list(pairs).to_parquet(str(path))
    ds = load_ultrainteract_pair(path)
    assert [r["id"] for r in ds] == [r["id"] for r in pairs]


def test_a_missing_local_file_and_a_wrong_suffix_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_ultrainteract_pair(tmp_path / "absent.parquet")
    other = tmp_path / "rows.csv"
    other.write_text("a,b\n")
    with pytest.raises(DataError, match=r"\.json, \.jsonl or \.parquet"):
        load_ultrainteract_pair(other)


def test_the_hub_path_calls_load_dataset_with_the_dataset_id(monkeypatch, pairs):
    import datasets

    seen = {}

    def fake_load_dataset(path, **kwargs):
        seen.update(path=path, **kwargs)
        return datasets.Dataset.from_list(pairs)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = load_ultrainteract_pair()
    assert seen == {"path": "openbmb/UltraInteract_pair", "split": "train"} and len(ds) == len(pairs)


def test_an_unreachable_hub_is_a_kit_error_that_suggests_a_local_file(monkeypatch):
    import datasets

    from eurus_lib.errors import KitError

    def offline(path, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(KitError, match="local .json/.jsonl/.parquet"):
        load_ultrainteract_sft()


@pytest.mark.parametrize("break_row, field", [
    (lambda r: r.pop("chosen"), "'chosen' is missing"),
    (lambda r: r.update(rejected=None), "'rejected' must be a string"),
    (lambda r: r.update(task="Math"), "'task' is 'Math'"),
    (lambda r: r.update(extra="x"), "'extra' is not part of the schema"),
    (lambda r: r.update(id="no-depth-or-turn"), "'id' is not of the form"),
    (lambda r: r["trajectory"].pop(), "'trajectory' must end with a user turn"),
    (lambda r: r["trajectory"][1].update({"from": "gpt"}), "'trajectory\\[1\\].from' is 'gpt'"),
    (lambda r: r["trajectory"][2].pop("value"), "'trajectory\\[2\\]' must have exactly the keys"),
    (lambda r: r.update(trajectory=[]), "'trajectory' must be a non-empty list"),
    (lambda r: r.update(id=r["id"][:-1] + "2"), "'trajectory' has 3 user turns but the id says turn 2"),
])
def test_a_malformed_pair_row_names_its_index_id_and_field(pairs, break_row, field):
    row = copy.deepcopy(pairs[4])
    break_row(row)
    with pytest.raises(DataError, match=rf"UltraInteract_pair row 7 \(id '.*'\): field {field}"):
        validate_pair_row(row, 7)


def test_a_malformed_sft_row_names_its_index_id_and_field(sft_rows):
    row = dict(sft_rows[1], response="   ")
    with pytest.raises(DataError, match=r"UltraInteract_sft row 1 \(id '[0-9a-f]+_2_2'\): field 'response' is empty"):
        validate_sft_row(row, 1)


def test_loading_a_file_with_one_bad_row_stops_at_that_row(pairs, tmp_path):
    pairs[3]["chosen"] = ""
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in pairs))
    with pytest.raises(DataError, match=rf"row 3 \(id '{pairs[3]['id']}'\): field 'chosen' is empty"):
        load_ultrainteract_pair(path)


def test_pair_ids_split_into_hash_depth_and_turn(pairs):
    assert parse_pair_id("abc_5_3") == ("abc", 5, 3)
    assert parse_pair_id(pairs[4]["id"]) == (pairs[4]["parent_id"], 5, 3)
    with pytest.raises(DataError):
        parse_pair_id("abc_5")


def test_a_turn_three_pair_becomes_a_five_message_prompt_ending_with_the_user(pairs):
    row = pairs[4]
    out = pair_to_dpo(row)
    assert [m["role"] for m in out["prompt"]] == ["user", "assistant", "user", "assistant", "user"]
    assert out["prompt"][1]["content"] == row["trajectory"][1]["value"]
    assert out["chosen"] == [{"role": "assistant", "content": row["chosen"]}]
    assert out["rejected"] == [{"role": "assistant", "content": row["rejected"]}]


def test_dpo_dataset_has_trl_conversational_preference_columns(pairs):
    from trl.data_utils import is_conversational

    ds = to_dpo_dataset(pairs)
    assert ds.column_names == ["prompt", "chosen", "rejected"] and len(ds) == len(pairs)
    assert is_conversational(ds[0])
    assert [len(r["prompt"]) for r in ds] == [1, 3, 5, 1, 5, 1]


def test_kto_gets_one_desirable_and_one_undesirable_row_per_pair(pairs):
    rows = pair_to_kto(pairs[2])
    assert [r["label"] for r in rows] == [True, False]
    assert rows[0]["prompt"] == rows[1]["prompt"] == pair_to_dpo(pairs[2])["prompt"]
    assert rows[0]["completion"][0]["content"] == pairs[2]["chosen"]
    ds = to_kto_dataset(pairs)
    assert ds.column_names == ["prompt", "completion", "label"] and len(ds) == 2 * len(pairs)
    assert sum(ds["label"]) == len(pairs)


def test_kto_rows_hold_the_same_examples_as_trls_own_unpairing(pairs):
    from trl.data_utils import unpair_preference_dataset

    ours = to_kto_dataset(pairs)
    theirs = unpair_preference_dataset(to_dpo_dataset(pairs))
    key = lambda r: (json.dumps(r["prompt"]), json.dumps(r["completion"]), r["label"])  # noqa: E731
    assert sorted(map(key, ours)) == sorted(map(key, theirs))


def test_sft_rows_become_messages_and_keep_instruction_and_response(sft_rows):
    out = sft_to_messages(sft_rows[0])
    assert out["messages"] == [{"role": "user", "content": sft_rows[0]["instruction"]},
                               {"role": "assistant", "content": sft_rows[0]["response"]}]
    assert out["instruction"].startswith("Write Python code to solve the task.\n")
    ds = to_sft_dataset(sft_rows)
    assert ds.column_names == ["messages", "instruction", "response"]
    pc = to_sft_dataset(sft_rows, prompt_completion=True)
    assert pc.column_names == ["prompt", "completion"] and pc[1]["completion"][0]["role"] == "assistant"


def test_action_slots_rebuild_correct_and_incorrect_actions_per_turn(pairs):
    trees = group_trees(pairs)
    assert [len(g) for g in trees.values()] == [3, 2, 1]
    slots = action_slots(trees[pairs[0]["parent_id"]])
    assert [s.turn for s in slots if s.role == "correct"] == [1, 2, 3]
    assert [s.turn for s in slots if s.role == "incorrect"] == [1, 2, 3]
    expanded = pairs[2]["trajectory"][3]["value"]  # the expanded wrong action of turn 2
    assert [s.turn for s in slots if s.text == expanded] == [2]
