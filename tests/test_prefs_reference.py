"""Reference log-probs scored once and shared equal what TRL's DPOTrainer and KTOTrainer compute themselves.

A tiny random Llama with the embedded model's tokenizer (and chat template) stands in for the
policy: the values are what is compared, not what a trained model would give.
"""

import pytest

from eurus_lib.config import ModelSettings, PrefsSettings
from eurus_lib.prefs.data import dpo_rows, kto_rows, token_lengths, usable_pairs
from eurus_lib.prefs.policy import Start, lora_config
from eurus_lib.prefs.reference import REF_FILE, shared_reference
from eurus_lib.prefs.trainers import trainer_classes
from eurus_lib.ultrainteract.convert import pair_to_dpo

MAX_LEN = 128  # short enough that some KL rows (a long prompt with another pair's long answer) get truncated


@pytest.fixture(scope="module")
def tok():
    from eurus_lib.models import load_tokenizer

    return load_tokenizer("embedded:smollm2-135m")


def random_model(tok):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config).train()


def make_pairs(tok):
    """Five pairs under MAX_LEN; p4 has a long prompt and p3 a long chosen answer, so in batch [3, 4] the KL
    row of p4's desirable side (p4's prompt with p3's chosen answer) runs past MAX_LEN and gets truncated."""
    rows = []
    for i in range(5):
        history = [{"from": "user", "value": f"Solve {i} + {i}." + " Show your steps." * (10 if i == 4 else 1)}]
        if i % 2:
            history += [{"from": "assistant", "value": f"The answer is {i}."},
                        {"from": "user", "value": "Out: None\nYour answer is wrong."}]
        chosen = f"Step 1: add.\nThe answer is {2 * i}." * (4 if i == 3 else 1)
        rows.append({"id": f"p{i}", "trajectory": history, "chosen": chosen, "rejected": f"It is {2 * i + 1}."})
    pairs, skipped = usable_pairs(rows, token_lengths(tok), MAX_LEN)
    assert len(pairs) == 5 and not skipped
    return pairs


BATCHES = [[3, 4], [1, 2]]


def trl_args(config_cls, tmp_path, **extra):
    return config_cls(output_dir=str(tmp_path / "trl"), report_to="none", use_cpu=True, bf16=False, beta=0.1,
                      max_length=MAX_LEN, precompute_ref_log_probs=True, gradient_checkpointing=False,
                      remove_unused_columns=False, **extra)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["merge", "full"])  # merge: each prompt once (prefs.prefix); full: TRL's precompute
def test_shared_reference_equals_what_dpo_and_kto_trainers_compute_themselves(tok, tmp_path, mode):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    pairs, batches = make_pairs(tok), BATCHES
    settings = PrefsSettings(batch_size=2, ref_batch_size=3)
    model = random_model(tok)
    start = Start(model, tok, lora_config(model, ModelSettings(lora_r=4)) if mode == "merge" else None, mode)
    ref = shared_reference(start, pairs, batches, settings, tmp_path, with_kl=True, seed=0, device="cpu",
                           max_length=MAX_LEN)
    assert (tmp_path / REF_FILE).is_file()

    dpo_data = [pair_to_dpo(pairs[i].row) for b in batches for i in b]
    dpo = DPOTrainer(model=random_model(tok), args=trl_args(DPOConfig, tmp_path, per_device_train_batch_size=2),
                     train_dataset=Dataset.from_list(dpo_data), processing_class=tok).train_dataset
    ours = dpo_rows(pairs, batches, ref)
    assert dpo["ref_chosen_logps"] == pytest.approx([r["ref_chosen_logps"] for r in ours], abs=1e-3)
    assert dpo["ref_rejected_logps"] == pytest.approx([r["ref_rejected_logps"] for r in ours], abs=1e-3)

    ours = kto_rows(pairs, batches, ref)
    bare = [{k: r[k] for k in ("prompt", "completion", "label")} for r in ours]
    kto = KTOTrainer(model=random_model(tok), args=trl_args(KTOConfig, tmp_path, per_device_train_batch_size=4),
                     train_dataset=Dataset.from_list(bare), processing_class=tok).train_dataset
    assert kto["ref_logps"] == pytest.approx([r["ref_logps"] for r in ours], abs=1e-3)
    assert kto["ref_KL_logps"] == pytest.approx([r["ref_KL_logps"] for r in ours], abs=1e-3)
    assert any(len(p) + len(c) > MAX_LEN for p, c in zip(kto["prompt_ids"], kto["KL_completion_ids"], strict=True))


@pytest.mark.slow
def test_shared_reference_is_read_back_when_the_pairs_and_kl_partners_match(tok, tmp_path, monkeypatch):
    import eurus_lib.prefs.reference as reference

    pairs, batches = make_pairs(tok), BATCHES
    start = Start(random_model(tok), tok, None, "merge")
    first = shared_reference(start, pairs, batches, PrefsSettings(), tmp_path, with_kl=True, seed=0, device="cpu",
                             max_length=MAX_LEN)
    monkeypatch.setattr(reference, "prefix_reference_logps", lambda *a, **k: pytest.fail("scored the reference twice"))
    assert shared_reference(start, pairs, batches, PrefsSettings(), tmp_path, with_kl=True, seed=0, device="cpu",
                            max_length=MAX_LEN) == first
    monkeypatch.undo()
    other = shared_reference(start, pairs, [[4, 3], [1, 2]], PrefsSettings(), tmp_path, with_kl=True, seed=0,
                             device="cpu", max_length=MAX_LEN)  # new KL partners: scored again
    assert other["p4"]["kl_from"] != first["p4"]["kl_from"]


@pytest.mark.slow
def test_the_reference_pass_leaves_each_sequences_trunk_states_for_training(tok, tmp_path):
    import torch

    from eurus_lib.trunk import TrunkCache

    pairs, batches = make_pairs(tok), BATCHES
    model = random_model(tok).eval()
    trunk = TrunkCache(k=1)  # the states entering the second (last) layer
    shared_reference(Start(model, tok, None, "merge"), pairs, batches, PrefsSettings(ref_batch_size=2), tmp_path,
                     with_kl=True, seed=0, device="cpu", max_length=MAX_LEN, trunk=trunk)
    assert len(trunk.states) == 4 * len(pairs) - 4  # chosen, rejected and two KL rows per pair in the batches
    for key, states in trunk.states.items():
        assert len(key) <= MAX_LEN
        plain = model(input_ids=torch.tensor([key]), output_hidden_states=True).hidden_states[1][0]
        assert torch.allclose(states, plain, atol=1e-4)


@pytest.mark.slow
def test_trainers_use_the_shared_columns_instead_of_scoring_the_reference(tok, tmp_path, monkeypatch):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    def fail(*args, **kwargs):
        pytest.fail("TRL scored the reference although the shared columns were there")

    monkeypatch.setattr(DPOTrainer, "_precompute_ref_logps", fail)
    pairs = make_pairs(tok)
    ref = {p.id: {"chosen": -11.0, "rejected": -22.0} for p in pairs}
    rows = dpo_rows(pairs, [[0, 1]], ref)
    dpo_cls, _, _ = trainer_classes()
    trainer = dpo_cls(model=random_model(tok), args=trl_args(DPOConfig, tmp_path, per_device_train_batch_size=2),
                      train_dataset=Dataset.from_list(rows), processing_class=tok)
    assert trainer.train_dataset["ref_chosen_logps"] == [-11.0, -11.0]


def test_a_head_that_scales_or_caps_its_logits_is_scored_by_trls_precompute():
    from types import SimpleNamespace

    from transformers import LlamaConfig

    from eurus_lib.prefs.prefix import plain_head

    assert plain_head(SimpleNamespace(config=LlamaConfig()))
    assert not plain_head(SimpleNamespace(config=LlamaConfig(final_logit_softcapping=30.0)))
    assert not plain_head(SimpleNamespace(config=LlamaConfig(logit_scale=0.5)))
