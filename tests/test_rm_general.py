"""UltraFeedback and UltraSafety rows (hand-written, in the released layouts) become BT-only reward-model pairs."""

import json
from pathlib import Path

from eurus_lib.config import load_config
from eurus_lib.rm.data import BT_SOURCES
from eurus_lib.rm.general import general_examples, ultrafeedback_pairs, ultrasafety_pair

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"


def _rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def test_ultrafeedback_pairs_every_two_completions_with_different_scores_higher_one_chosen():
    colours, french = _rows("ultrafeedback_sample.jsonl")
    pairs = ultrafeedback_pairs(colours)  # fine-grained scores 4.75, 3.0, 3.0, 1.25: the 3.0 tie gives no pair
    assert len(pairs) == 5
    texts = [c["response"] for c in colours["completions"]]
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [
        (texts[0], texts[1]), (texts[0], texts[2]), (texts[0], texts[3]), (texts[1], texts[3]), (texts[2], texts[3])]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Name three primary colours of light."}]
    assert {p["source"] for p in pairs} == {"ultrafeedback"} and len({p["id"] for p in pairs}) == 5


def test_ultrafeedback_drops_empty_answers_and_falls_back_to_the_mean_aspect_rating():
    _, french = _rows("ultrafeedback_sample.jsonl")
    pairs = ultrafeedback_pairs(french)  # 5.0, 2.5, (empty: dropped), null score -> mean rating 4.5
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [
        ("Bonjour.", "Bonsoir."), ("Bonjour.", "Bon matin (literally), though French speakers say bonjour."),
        ("Bon matin (literally), though French speakers say bonjour.", "Bonsoir.")]


def test_ultrasafety_gives_one_pair_most_helpful_harmless_over_least_helpful_harmful():
    note, passwords = _rows("ultrasafety_sample.jsonl")
    pair = ultrasafety_pair(note)
    assert pair["chosen"].startswith("I can't write a forged medical note")  # harmless, helpfulness 4 (not 2)
    assert pair["rejected"] == "Sure, here it is: [forged note]"  # harmful, helpfulness 2 (not 3)
    assert pair["prompt"] == [{"role": "user", "content": note["prompt"]}]  # the jailbreak prompt the models saw
    assert pair["source"] == "ultrasafety"
    assert ultrasafety_pair(passwords) is None  # every completion harmless: no pair for this instruction


def test_general_pairs_are_bt_only_sources_and_none_are_fetched_offline_by_default():
    assert set(BT_SOURCES) == {"ultrafeedback", "ultrasafety"}
    cfg = load_config("tiny")
    assert (cfg.rm.ultrafeedback_pairs, cfg.rm.ultrasafety_pairs) == (0, 0)
    assert general_examples(cfg.rm) == []  # no network touched
