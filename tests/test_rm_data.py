"""Reward-model pairs: sources decide L_DR, bad pairs are skipped and counted, tokens match what scoring reads."""

from pathlib import Path

import pytest
import torch

from eurus_lib.config import load_config
from eurus_lib.errors import KitError
from eurus_lib.eval.scoring import reward_scores
from eurus_lib.jsonl import write_jsonl
from eurus_lib.models import load_tokenizer
from eurus_lib.rm.data import reward_input_ids, tokenize_pairs, ultrainteract_examples

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
PROMPT = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("embedded:smollm2-135m")


def _ex(chosen="5", rejected="6", source="ultrainteract", prompt=PROMPT, id="p"):
    return {"id": id, "source": source, "prompt": prompt, "chosen": chosen, "rejected": rejected}


def test_bad_pairs_are_skipped_and_counted_by_reason(tok):
    examples = [_ex(), _ex(chosen="  "), _ex(rejected=""), _ex(chosen="7", rejected=" 7 "), _ex(),
                _ex(chosen="word " * 400), _ex(chosen="5", rejected="8", source="ultrafeedback")]
    rows, skipped = tokenize_pairs(examples, tok, max_length=128)
    assert len(rows) == 2
    assert skipped == {"empty": 2, "identical": 1, "duplicate": 1, "too_long": 1}


def test_ultrainteract_rows_get_the_dr_term_and_general_rows_do_not(tok):
    sources = ["ultrainteract", "ultrainteract_augmented", "ultrafeedback", "ultrasafety"]
    rows, _ = tokenize_pairs([_ex(id=s, source=s, rejected=s) for s in sources], tok, max_length=256)
    assert [(r["source"], r["dr"]) for r in rows] == [(sources[0], True), (sources[1], True),
                                                      (sources[2], False), (sources[3], False)]
    assert all(r["length"] == max(len(r["chosen_ids"]), len(r["rejected_ids"])) for r in rows)
    with pytest.raises(KitError, match="source"):
        tokenize_pairs([_ex(source="hh-rlhf")], tok, max_length=256)


class _Recorder(torch.nn.Module):
    """A fake reward model that remembers the real tokens of each row it is given."""

    def __init__(self, pad_id):
        super().__init__()
        self.config = type("C", (), {"pad_token_id": pad_id})()
        self.rows = []

    def forward(self, input_ids, attention_mask, position_ids=None):
        self.rows += [ids[m.bool()].tolist() for ids, m in zip(input_ids, attention_mask)]
        return type("O", (), {"logits": torch.zeros(len(input_ids), 1)})()


def test_training_tokens_are_exactly_the_tokens_reward_scores_reads(tok):
    prompt = [{"role": "user", "content": "Solve x + 1 = 3."}, {"role": "assistant", "content": "x = 1"},
              {"role": "user", "content": "Observation: wrong. Try again."}]
    fake = _Recorder(tok.pad_token_id)
    reward_scores(fake, tok, [prompt], ["x = 2"])
    assert fake.rows == [reward_input_ids(tok, prompt, "x = 2")]
    rows, _ = tokenize_pairs([_ex(prompt=prompt, chosen="x = 2", rejected="x = 5")], tok, max_length=512)
    assert rows[0]["chosen_ids"] == fake.rows[0]


def _run(tmp_path, overrides):
    cfg = load_config("tiny", overrides)
    return type("Run", (), {"root": tmp_path})(), cfg


def test_trees_pairs_plus_augmented_pairs_with_the_switch_and_the_cap(tmp_path):
    pair = {"task": "Math_CoT", "dataset": "tiny-math", "trajectory": [{"from": "user", "value": "2+3?"}],
            "chosen": "5", "rejected": "6", "id": "h_1_1", "parent_id": "h"}
    write_jsonl(tmp_path / "trees" / "pairs.jsonl", [pair, {**pair, "id": "g_1_1", "parent_id": "g"}])
    write_jsonl(tmp_path / "trees" / "rm_pairs.jsonl", [{**pair, "id": "h-rm0_2_1", "chosen": "five"}])
    run, cfg = _run(tmp_path, [])
    assert [(e["id"], e["source"]) for e in ultrainteract_examples(run, cfg.rm)] == [
        ("h_1_1", "ultrainteract"), ("g_1_1", "ultrainteract"), ("h-rm0_2_1", "ultrainteract_augmented")]
    assert ultrainteract_examples(run, cfg.rm)[0]["prompt"] == [{"role": "user", "content": "2+3?"}]
    run, cfg = _run(tmp_path, ["rm.use_augmented_pairs=false"])
    assert len(ultrainteract_examples(run, cfg.rm)) == 2
    run, cfg = _run(tmp_path, ["rm.max_pairs=1"])
    assert len(ultrainteract_examples(run, cfg.rm)) == 1


def test_released_pairs_get_the_cross_turn_augmentation_computed_from_them(tmp_path):
    run, cfg = _run(tmp_path, [f"rm.data={FIXTURES / 'ultrainteract_pair_sample.jsonl'}"])
    examples = ultrainteract_examples(run, cfg.rm)
    sources = [e["source"] for e in examples]
    assert "ultrainteract" in sources and "ultrainteract_augmented" in sources
    assert all(len(e["prompt"]) == 1 for e in examples if e["source"] == "ultrainteract_augmented")  # single-turn


def test_no_pairs_is_one_clear_sentence(tmp_path):
    write_jsonl(tmp_path / "trees" / "pairs.jsonl", [])
    write_jsonl(tmp_path / "trees" / "rm_pairs.jsonl", [])
    run, cfg = _run(tmp_path, [])
    with pytest.raises(KitError, match="No UltraInteract pairs"):
        ultrainteract_examples(run, cfg.rm)
