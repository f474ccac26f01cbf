"""N answers from one prefill: greedy agrees with generate, sampling repeats with its seed, log-probs re-score."""

import pytest
import torch

from eurus_lib.eval.sampling import pick_tokens, sample_n
from eurus_lib.eval.scoring import encode_response, response_logprobs
from eurus_lib.generation import generate_chat, render_prompt

CONVERSATIONS = [[{"role": "user", "content": "What is 2 + 3?"}],
                 [{"role": "user", "content": "Write one sentence about the sea."}]]


def test_nucleus_keeps_the_smallest_set_of_tokens_covering_top_p():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(400, 1)
    gen = torch.Generator().manual_seed(0)
    assert set(pick_tokens(logits, 1.0, 0.5, gen).tolist()) == {0}
    assert set(pick_tokens(logits, 1.0, 0.8, gen).tolist()) == {0, 1}
    assert set(pick_tokens(logits, 1.0, 1.0, gen).tolist()) == {0, 1, 2}
    assert set(pick_tokens(logits, 0.0, 1.0, gen).tolist()) == {0}


def test_low_temperature_sharpens_the_draw():
    logits = torch.log(torch.tensor([[0.4, 0.35, 0.25]])).repeat(400, 1)
    cold = pick_tokens(logits, 0.05, 1.0, torch.Generator().manual_seed(0))
    assert (cold == 0).float().mean() > 0.9


@pytest.mark.slow
def test_greedy_continuations_from_a_shared_prefill_match_generate(tiny_policy):
    model, tok = tiny_policy
    reference = []
    for conversation in CONVERSATIONS:  # transformers' own generate, one prompt at a time
        ids = tok(render_prompt(tok, conversation), return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            out = model.generate(ids, max_new_tokens=12, do_sample=False, temperature=None, top_p=None, top_k=None,
                                 pad_token_id=tok.pad_token_id)
        reference.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    samples = sample_n(model, tok, CONVERSATIONS, 2, temperature=0.0, max_new_tokens=12)
    assert [[s["response"] for s in group] for group in samples] == [[r] * 2 for r in reference]
    assert generate_chat(model, tok, CONVERSATIONS, temperature=0.0, max_new_tokens=12, progress=False) == \
        [[r] for r in reference]


@pytest.mark.slow
def test_sampling_repeats_with_its_seed_and_its_log_probs_match_a_rescoring(tiny_policy):
    model, tok = tiny_policy
    options = {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 10, "batch_size": 6}
    first = sample_n(model, tok, CONVERSATIONS, 3, seed=7, **options)
    again = sample_n(model, tok, CONVERSATIONS, 3, seed=7, **options)
    assert [len(group) for group in first] == [3, 3]
    assert [[s["token_ids"] for s in g] for g in first] == [[s["token_ids"] for s in g] for g in again]
    assert len({tuple(s["token_ids"]) for g in first for s in g}) > 1  # T=1 does not give six equal answers
    for group in first:
        for s in group:
            assert 1 <= s["tokens"] <= 10 and s["finished"] == (s["token_ids"][-1] == tok.eos_token_id)
    prompts = [encode_response(tok, c, "")[0] for c in CONVERSATIONS]
    rows = [(prompts[p], s["token_ids"]) for p, group in enumerate(first) for s in group]
    rescored = response_logprobs(model, rows, pad_id=tok.pad_token_id, average=True, batch_size=6)
    assert [s["logprob"] for g in first for s in g] == pytest.approx(rescored, rel=1e-4, abs=1e-4)


@pytest.mark.slow
def test_finished_rows_leave_the_batch_and_the_others_decode_as_if_alone(tiny_policy, monkeypatch):
    from transformers import DynamicCache

    model, tok = tiny_policy
    conversations = [[{"role": "user", "content": "Reply with the single word: yes."}],
                     [{"role": "user", "content": "Count from one to twenty in words."}]]
    selected = []
    original = DynamicCache.batch_select_indices
    monkeypatch.setattr(DynamicCache, "batch_select_indices",
                        lambda self, idx: (selected.append(idx.tolist()), original(self, idx))[1])
    together = sample_n(model, tok, conversations, 1, temperature=0.0, max_new_tokens=40, batch_size=2)
    assert selected, "the short answer finished first, so the batch should have been compacted"
    selected.clear()
    alone = [sample_n(model, tok, [c], 1, temperature=0.0, max_new_tokens=40)[0] for c in conversations]
    assert [g[0]["token_ids"] for g in together] == [g[0]["token_ids"] for g in alone]
    assert together[0][0]["tokens"] < together[1][0]["tokens"]


@pytest.mark.slow
def test_decoding_into_reserved_cache_room_gives_the_same_tokens_and_log_probs(tiny_policy, monkeypatch):
    from eurus_lib.eval import sampling

    model, tok = tiny_policy
    conversations = CONVERSATIONS + [[{"role": "user", "content": "Count from one to twenty in words."}]]
    options = {"temperature": 1.0, "top_p": 0.9, "max_new_tokens": 30, "seed": 3, "batch_size": 6}
    reserved = sample_n(model, tok, conversations, 2, **options)
    monkeypatch.setattr(sampling, "reserve", lambda cache, extra: None)  # transformers' concatenating layers
    plain = sample_n(model, tok, conversations, 2, **options)
    assert [[s["token_ids"] for s in g] for g in reserved] == [[s["token_ids"] for s in g] for g in plain]
    assert [[s["logprob"] for s in g] for g in reserved] == [[s["logprob"] for s in g] for g in plain]


def test_a_reserved_layer_writes_in_place_and_grows_when_out_of_room():
    from transformers import DynamicCache

    from eurus_lib.eval.sampling import reserve

    cache = DynamicCache()
    keys, values = torch.randn(3, 2, 4, 8), torch.randn(3, 2, 4, 8)
    cache.update(keys, values, 0)
    reserve(cache, 2)
    layer = cache.layers[0]
    buffer = layer.keys.untyped_storage().data_ptr()
    step = [torch.randn(3, 2, 1, 8) for _ in range(6)]
    for k in step[:2]:
        cache.update(k, k, 0)
    assert layer.keys.untyped_storage().data_ptr() == buffer  # written into the reserved room
    for k in step[2:]:
        cache.update(k, k, 0)  # past the room: the layer grows instead of failing
    expected = torch.cat([keys, *step], dim=-2)
    assert torch.equal(layer.keys, expected) and cache.get_seq_length() == 10
    cache.batch_select_indices(torch.tensor([2, 0]))
    assert torch.equal(layer.keys, expected[[2, 0]])
    cache.update(step[0][:2], step[0][:2], 0)
    assert torch.equal(layer.values[:, :, -1:], step[0][:2]) and layer.keys.shape == (2, 2, 11, 8)
