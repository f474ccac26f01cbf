"""Policies that differ only in a LoRA adapter decode in one batch and answer as each does alone.

A tiny random Llama with the embedded model's tokenizer stands in for the base, with a random
"SFT" adapter on it and "DPO"/"KTO" adapters on the merged SFT policy, saved the way the sft and
prefs stages save theirs (the preference adapter names the SFT folder as its base).
"""

import json
import os

import pytest

from eurus_lib.config import ModelSettings

SETTINGS = ModelSettings(policy="unused", dtype="float32")
CONVERSATIONS = [[{"role": "user", "content": "What is 2 + 3?"}],
                 [{"role": "user", "content": "Name a colour and a number, please."}]]


def _adapter(model, folder, seed):
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")  # random B: the adapter changes the model
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(folder)
    return peft_model


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from eurus_lib.models import load_tokenizer
    from eurus_lib.policies import load_trained_policy

    root = tmp_path_factory.mktemp("policies")
    tok = load_tokenizer("embedded:smollm2-135m")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    base = LlamaForCausalLM.from_pretrained(root / "base")
    base.config.name_or_path = str(root / "base")
    _adapter(base, root / "sft" / "model", seed=1)
    tok.save_pretrained(root / "sft" / "model")
    out = {"sft": root / "sft" / "model"}
    for seed, algo in enumerate(("dpo", "kto"), start=2):
        merged, _ = load_trained_policy(out["sft"], SETTINGS, "cpu")
        folder = root / "prefs" / algo / "model"
        _adapter(merged, folder, seed)
        tok.save_pretrained(folder)
        config_file = folder / "adapter_config.json"
        data = json.loads(config_file.read_text())
        data["base_model_name_or_path"] = os.path.relpath(out["sft"], folder)  # as prefs.policy.save_policy does
        config_file.write_text(json.dumps(data))
        out[algo] = folder
    out["base"] = root / "base"
    return out


def test_adapters_on_the_merged_sft_policy_group_with_sft_as_the_base(folders):
    from eurus_lib.policies import load_policy_group

    model, _, routes = load_policy_group({k: folders[k] for k in ("sft", "dpo", "kto")}, SETTINGS, "cpu")
    assert routes == {"sft": "__base__", "dpo": "dpo", "kto": "kto"}
    assert set(model.peft_config) == {"dpo", "kto"}


def test_policies_that_share_no_base_do_not_group(folders):
    from eurus_lib.policies import load_policy_group

    assert load_policy_group({"base": folders["base"], "dpo": folders["dpo"]}, SETTINGS, "cpu") is None
    assert load_policy_group({"sft": folders["sft"]}, SETTINGS, "cpu") is None  # nothing to batch with
    quantized = ModelSettings(policy="unused", load_in_4bit=True)  # merging SFT into NF4 would round it
    assert load_policy_group({k: folders[k] for k in ("sft", "dpo")}, quantized, "cpu") is None


def test_policies_decoded_together_answer_token_for_token_as_each_alone(folders):
    import pytest

    from eurus_lib.eval.sampling import sample_n
    from eurus_lib.policies import load_policy_group, load_trained_policy

    names = ("sft", "dpo", "kto")
    model, tok, routes = load_policy_group({k: folders[k] for k in names}, SETTINGS, "cpu")
    together = sample_n(model, tok, CONVERSATIONS * len(names), 1, temperature=0.0, max_new_tokens=12,
                        batch_size=8, adapter_names=[routes[n] for n in names for _ in CONVERSATIONS])
    alone = []
    for name in names:
        policy, tok = load_trained_policy(folders[name], SETTINGS, "cpu")
        alone += sample_n(policy, tok, CONVERSATIONS, 1, temperature=0.0, max_new_tokens=12, batch_size=8)
    assert [g[0]["token_ids"] for g in together] == [g[0]["token_ids"] for g in alone]
    assert [g[0]["logprob"] for g in together] == pytest.approx([g[0]["logprob"] for g in alone], abs=1e-4)
    assert len({tuple(g[0]["token_ids"]) for g in alone}) > 2  # the adapters really answer differently


def test_held_out_records_answered_together_match_each_policy_scored_alone_and_are_read_back(folders, tmp_path):
    from trees_support import math_task

    from eurus_lib.config import load_config
    from eurus_lib.policies import (
        heldout_records,
        heldout_records_together,
        load_policy_group,
        load_trained_policy,
    )
    from eurus_lib.runs import RunDir

    cfg = load_config("tiny", ["eval.max_new_tokens=16"])
    run = RunDir.open(tmp_path, cfg)
    tasks = [math_task(k, label="Math_CoT") for k in range(3)]
    model, tok, routes = load_policy_group({k: folders[k] for k in ("sft", "dpo")}, SETTINGS, "cpu")
    together = heldout_records_together(run, "group", routes, model, tok, cfg, tasks)
    for name in ("sft", "dpo"):
        policy, tok = load_trained_policy(folders[name], SETTINGS, "cpu")
        alone = heldout_records(run, "alone", name, policy, tok, cfg, tasks)
        assert [r["response"] for r in together[name]] == [r["response"] for r in alone]
    assert together["sft"] != together["dpo"]
    assert heldout_records_together(run, "group", routes, None, None, cfg, tasks) == together  # read back, not redone
    assert list(json.loads((tmp_path / "group" / "heldout" / "seconds.json").read_text())) == ["sft + dpo"]
