"""Sharing the frozen trunk between reward models is exact: same rewards, same gradients, one trunk pass."""

import contextlib
import dataclasses
import os

import pytest
import torch

from eurus_lib.config import load_config
from eurus_lib.eval.scoring import reward_scores
from eurus_lib.models import add_lora, load_reward_model
from eurus_lib.trunk import TrunkCache, shares_trunk

PROMPTS = [[{"role": "user", "content": "What is 2 + 3?"}],
           [{"role": "user", "content": "Write a function add(a, b)."},
            {"role": "assistant", "content": "def add(a, b): return a - b"},
            {"role": "user", "content": "Observation: wrong. Fix it."}]]
ANSWERS = ["It is 5.", "def add(a, b):\n    return a + b"]


def _rm(seed, k=2):
    """The tiny body with fresh LoRA on its last k layers, randomized so each seed is another reward model."""
    settings = dataclasses.replace(load_config("tiny").model, lora_layers=k)
    torch.manual_seed(seed)
    model, tok = load_reward_model(settings.policy, settings)
    model = add_lora(model, settings, task_type="SEQ_CLS")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name or "score" in name:
                param.normal_(std=0.05)
    return model.eval(), tok


@pytest.fixture(scope="module")
def two_models():
    (a, tok), (b, _) = _rm(0), _rm(1)
    return a, b, tok


@pytest.mark.slow
def test_cached_trunk_gives_each_model_exactly_its_own_rewards_with_one_trunk_pass(two_models):
    a, b, tok = two_models
    assert shares_trunk(a, 2) and not shares_trunk(a, 1)  # adapters sit in the last two layers
    cache = TrunkCache(k=2)
    shared = cache.scores({"a": a, "b": b}, tok, PROMPTS, ANSWERS, batch_size=2)
    assert shared["a"] == pytest.approx(reward_scores(a, tok, PROMPTS, ANSWERS), abs=1e-5)
    assert shared["b"] == pytest.approx(reward_scores(b, tok, PROMPTS, ANSWERS), abs=1e-5)
    assert shared["a"] != pytest.approx(shared["b"], abs=1e-3)
    tokens = cache.trunk_tokens
    cache.scores({"a": a}, tok, PROMPTS, ANSWERS)
    assert cache.trunk_tokens == tokens  # every sequence went through the trunk once


def test_answers_to_one_prompt_run_the_prompt_through_the_trunk_once(two_models):
    from eurus_lib.rm.data import reward_input_ids

    a, _, tok = two_models
    answers = ["It is 5.", "It is 6, I think.", "5"]
    rows = [reward_input_ids(tok, PROMPTS[0], r) for r in answers]
    alone = TrunkCache(k=2)
    for row in rows:  # the plain fill: every sequence in full
        ids = torch.tensor([row])
        alone._fill(a, ids, torch.ones_like(ids), [tuple(row)])
    shared = TrunkCache(k=2)
    shared.fill(a, [rows, [rows[0]]], pad_id=tok.pad_token_id, batch_size=2)  # a repeat is computed once
    assert set(shared.states) == set(alone.states)
    for key, states in alone.states.items():
        assert torch.allclose(shared.states[key], states, atol=1e-4)
    prefix = len(os.path.commonprefix(rows))  # the chat template and the prompt, up to where the answers part
    assert shared.trunk_tokens == prefix + sum(len(r) - prefix for r in rows) < alone.trunk_tokens
    before = dict(shared.states)
    shared.fill(a, [rows], pad_id=tok.pad_token_id)
    assert all(shared.states[k] is v for k, v in before.items())  # nothing cached is computed again


@pytest.mark.slow
def test_training_through_the_cache_gives_the_plain_forwards_loss_and_gradients(two_models):
    a, _, tok = two_models
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in ("one two three four five", "six seven")]
    input_ids = torch.full((2, 5), tok.pad_token_id)
    mask = torch.zeros((2, 5), dtype=torch.long)
    for i, row in enumerate(ids):  # right padding, as TRL's collator pads
        input_ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row), 1
    grads = []
    for forward in (lambda: a(input_ids=input_ids, attention_mask=mask),
                    lambda: TrunkCache(k=2).forward(a, input_ids, mask)):
        a.zero_grad()
        loss = forward().logits.square().sum()
        loss.backward()
        grads.append((loss.item(), {n: p.grad.clone() for n, p in a.named_parameters() if p.grad is not None}))
    (plain_loss, plain), (cached_loss, cached) = grads
    assert cached_loss == pytest.approx(plain_loss, rel=1e-5)
    assert plain.keys() == cached.keys() and plain
    assert all(torch.allclose(plain[n], cached[n], atol=1e-5) for n in plain)


def _policy(seed=2, k=2):
    """The tiny causal LM with fresh, randomized LoRA on its last k layers (a stand-in for a DPO policy)."""
    from eurus_lib.models import load_policy

    settings = dataclasses.replace(load_config("tiny").model, lora_layers=k)
    torch.manual_seed(seed)
    model, tok = load_policy(settings.policy, settings)
    model = add_lora(model, settings)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    return model, tok


def _right_padded(tok, texts):
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tok.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row), 1
    return ids, mask


@pytest.mark.slow
def test_an_installed_trunk_fills_once_then_gives_the_plain_forwards_logits_and_gradients():
    model, tok = _policy()
    model.train()
    ids, mask = _right_padded(tok, ["The answer is 42 because six times seven", "def f(x): return x"])
    runs = []
    cache = TrunkCache(k=2)
    for installed in (False, True, True):  # plain, then filling the cache, then reading it
        model.zero_grad()
        with cache.installed(model) if installed else contextlib.nullcontext():
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        real = mask.bool()
        loss = logits[real].square().mean()
        loss.backward()
        runs.append((logits[real].detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                             if p.grad is not None}))
    assert cache.trunk_tokens == int(mask.sum()) and cache.hits == 2  # filled by the first call, read by the second
    (plain, plain_grads), *cached = runs
    for logits, grads in cached:
        assert torch.allclose(logits, plain, atol=1e-4)
        assert grads.keys() == plain_grads.keys() and grads
        assert all(torch.allclose(grads[n], plain_grads[n], atol=1e-5) for n in grads)
    assert not any("layers.0." in n or "layers.25." in n for n in plain_grads)  # nothing trains below the top


@pytest.mark.slow
def test_an_installed_trunk_leaves_generation_and_left_padding_to_the_real_layers():
    model, tok = _policy()
    model.eval()
    ids, mask = _right_padded(tok, ["Two plus two is"])
    plain = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
    cache = TrunkCache(k=2)
    with cache.installed(model):
        inside = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
        left_ids = torch.cat([torch.full((1, 3), tok.pad_token_id), ids], dim=1)
        left_mask = torch.cat([torch.zeros((1, 3), dtype=torch.long), mask], dim=1)
        model(input_ids=left_ids, attention_mask=left_mask, use_cache=False)
    assert inside.tolist() == plain.tolist()
    assert cache.trunk_tokens == 0 and not cache.states  # KV-cached steps and left padding were never cached
