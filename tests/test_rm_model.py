"""The reward model starts as the SFT policy's body plus a new head, in "merge" and in "continue" (QLoRA) mode."""

import pytest
import torch

from eurus_lib.config import load_config
from eurus_lib.eval.scoring import reward_scores
from eurus_lib.models import load_policy, load_reward_model
from eurus_lib.rm.model import start_mode, start_reward_model

TEXT = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\nIt is 5.<|im_end|>\n"


def make_sft_adapter(folder, settings, seed=0):
    """A LoRA adapter on the tiny policy with random (non-zero) B matrices: an SFT policy unlike the base."""
    torch.manual_seed(seed)
    model, tok = load_policy(settings.policy, settings, lora=True)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.02)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _last_hidden(body, tok):
    ids = tok(TEXT, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        return body(input_ids=ids).last_hidden_state[0, -1]


def _sft_body_hidden(sft_dir, settings, tok):
    policy, _ = load_policy(str(sft_dir), settings)
    return _last_hidden(policy.base_model.model.model, tok)  # LoRA layers active: the SFT policy's body


def test_mode_follows_the_model_settings():
    cfg = load_config("tiny")
    assert start_mode(cfg.model) == "merge"
    assert start_mode(load_config("gpu-7b-qlora").model) == "continue"
    assert start_mode(load_config("multi-gpu-full").model) == "full"


@pytest.mark.slow
def test_merge_mode_starts_as_the_sft_body_with_fresh_lora_on_the_last_layers_and_a_trainable_head(tmp_path):
    settings = load_config("tiny", ["model.lora_layers=2"]).model
    sft_dir = make_sft_adapter(tmp_path / "sft", settings)
    model, tok, mode = start_reward_model(sft_dir, settings, "cpu", seed=0)
    assert mode == "merge" and model.training
    rm_body = model.base_model.model.model
    assert torch.allclose(_last_hidden(rm_body, tok), _sft_body_hidden(sft_dir, settings, tok), atol=1e-4)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("score" in n for n in trainable)  # the new one-output head trains fully
    layers = {int(n.split(".layers.")[1].split(".")[0]) for n in trainable if "lora_" in n}
    assert layers == {28, 29}  # SmolLM2 has 30 decoder layers: LoRA on the last two only
    head = [p for n, p in model.named_parameters() if "score" in n and p.requires_grad][0]
    assert head.shape == (1, 576) and not any("score" in n and "bias" in n for n, _ in model.named_parameters())
    again, _, _ = start_reward_model(sft_dir, settings, "cpu", seed=0)
    head_again = [p for n, p in again.named_parameters() if "score" in n and p.requires_grad][0]
    assert torch.equal(head, head_again)  # same seed, same new head: every objective starts alike


@pytest.mark.slow
def test_continue_mode_trains_the_sft_adapter_itself_and_reloads_from_the_base(tmp_path):
    settings = load_config("tiny").model
    sft_dir = make_sft_adapter(tmp_path / "sft", settings, seed=1)
    model, tok, mode = start_reward_model(sft_dir, settings, "cpu", seed=0, mode="continue")
    assert mode == "continue"
    assert torch.allclose(_last_hidden(model.base_model.model.model, tok), _sft_body_hidden(sft_dir, settings, tok),
                          atol=1e-4)  # nothing merged: exactly the SFT body, as on NF4 weights
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_B" in n for n in trainable) and any("score" in n for n in trainable)
    model.eval()
    model.save_pretrained(tmp_path / "rm")
    tok.save_pretrained(tmp_path / "rm")
    loaded, tok2 = load_reward_model(str(tmp_path / "rm"), settings)
    prompt = [{"role": "user", "content": "What is 2 + 3?"}]
    assert reward_scores(loaded, tok2, [prompt], ["5"]) == pytest.approx(reward_scores(model, tok, [prompt], ["5"]),
                                                                         abs=1e-4)
