"""N sampled answers per prompt from one prefill: the prompt's KV cache is computed once and shared.

    from eurus_lib.models import load_policy
    from eurus_lib.eval.sampling import sample_n

    model, tok = load_policy("embedded:smollm2-135m")
    [samples] = sample_n(model, tok, [[{"role": "user", "content": "What is 2 + 3?"}]], 4,
                         temperature=1.0, top_p=0.95, max_new_tokens=24, seed=0)
    samples[0]   # {"response": "...", "logprob": -0.83, "tokens": 9, "token_ids": [...], "finished": True}

Best-of-N (paper section 5, Table 9) needs N answers to the same prompt. Sending the prompt N
times through `generate` would prefill it N times; here a batch of prompts is left-padded and
prefilled once, the cache is repeated N times along the batch (`Cache.batch_repeat_interleave`)
together with the last-position logits, and the N continuations are decoded side by side.

Why a decode loop of our own rather than `generate` on the expanded cache (which does work; the
greedy texts agree): the "top log-probability" baseline needs each sampled token's log-probability
under the plain T=1 logits. `generate` hands those out only as `output_logits`, kept for every
step, row and vocabulary entry until the end (192 steps x 64 rows x 49k vocab in fp32 is 2.4 GB on
the tiny model), and a custom logits processor would see the scores after temperature and top-p
(custom processors run after generate's own). The loop below reads the raw logits once per step.

Sampling is temperature, then nucleus (top-p) filtering, as HF's warpers do; there is no top-k
(HF's generation default adds top_k=50). Temperature 0 is greedy. Each batch of prompts draws from
its own torch.Generator seeded with seed + batch index, so a rerun with the same inputs and
batch_size repeats itself and the global RNG is left alone. A response's tokens run up to and
including the first end-of-turn token; `logprob` is their mean log-probability.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence

from ..generation import render_prompt
from ..progress import progress_bar
from .padding import length_sorted_batches, model_device, pad_batch, position_ids, token_ids


def sample_n(model, tokenizer, conversations: Sequence[Sequence[dict]], n: int, *, temperature: float = 1.0,
             top_p: float = 1.0, max_new_tokens: int = 128, seed: int = 0, batch_size: int = 16,
             progress: bool | str = False, adapter_names: Sequence[str] | None = None) -> list[list[dict]]:
    """For each conversation, `n` sampled responses with their mean token log-probability (T=1 logits).

    `batch_size` counts decoded rows, so each batch holds max(1, batch_size // n) prompts.
    adapter_names: with a peft model holding several LoRA adapters, the adapter that answers each
    conversation ("__base__" for the model without adapters). Policies that differ only in their
    adapters then decode in one batch (peft's mixed-adapter forward), so they share every step's
    pass over the base weights; see `policies.load_policy_group`.
    """
    import torch

    prompts = [token_ids(tokenizer, render_prompt(tokenizer, c)) for c in conversations]
    stop = _stop_ids(model, tokenizer)
    out: list[list[dict]] = [[] for _ in prompts]
    desc = progress if isinstance(progress, str) else "sampling"
    with torch.inference_mode(), progress_bar(len(prompts), desc, "prompt", bool(progress)) as bar:
        for b, batch in enumerate(length_sorted_batches([len(p) for p in prompts], max(1, batch_size // n))):
            generator = torch.Generator(model_device(model)).manual_seed(seed + b)
            names = None if adapter_names is None else [adapter_names[i] for i in batch]
            logits, cache, mask = prefill([prompts[i] for i in batch], model, tokenizer.pad_token_id, n,
                                          adapter_names=names)
            tokens, logps, counted = decode(model, logits, cache, mask, max_new_tokens=max_new_tokens,
                                            temperature=temperature, top_p=top_p, stop=stop,
                                            pad_id=tokenizer.pad_token_id, generator=generator,
                                            adapter_names=None if names is None else [a for a in names
                                                                                      for _ in range(n)])
            rows = _responses(tokenizer, tokens, logps, counted, stop)
            for k, i in enumerate(batch):
                out[i] = rows[k * n:(k + 1) * n]
            bar.update(len(batch))
    return out


def prefill(prompts: list[list[int]], model, pad_id: int, n: int, rows_per_pass: int = 8,
            adapter_names: Sequence[str] | None = None):
    """(last-position logits, cache, attention mask), each repeated `n` times along the batch.

    The prompts are prefilled `rows_per_pass` at a time, longest first, each pass padded only to its
    own longest prompt; the passes' keys and values are then left-padded with zeros (masked out) to
    one width for decoding. Prefill is compute-bound on a CPU, so padding is paid for in full: the
    56 held-out prompts of the tiny run (92 to 164 tokens) padded as one batch were 27% padding.
    """
    import torch

    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    width = len(prompts[order[0]])
    parts = []
    for start in range(0, len(order), max(1, rows_per_pass)):
        rows = order[start:start + rows_per_pass]
        ids, mask = pad_batch([prompts[i] for i in rows], pad_id, "left", model_device(model))
        out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), use_cache=True,
                    logits_to_keep=1,  # only the last position's logits are needed
                    **_adapters(adapter_names, rows))
        parts.append((rows, out.logits[:, -1].float(), cache_of(out), mask))
        if len(rows) < len(order) and not _plain_layers(parts[0][2]):  # e.g. sliding windows: one padded pass
            return prefill(prompts, model, pad_id, n, rows_per_pass=len(prompts), adapter_names=adapter_names)
    back = torch.tensor(order, device=model_device(model)).argsort()  # longest-first order -> the callers'
    logits = torch.cat([p[1] for p in parts])[back]
    mask = torch.cat([torch.nn.functional.pad(p[3], (width - p[3].shape[1], 0)) for p in parts])[back]
    cache = parts[0][2]
    for i, layer in enumerate(cache.layers):
        for name in ("keys", "values"):
            merged = torch.cat([_left_pad(getattr(p[2].layers[i], name), width) for p in parts])
            setattr(layer, name, merged[back])
    cache.batch_repeat_interleave(n)  # one copy of the prompt's keys and values per continuation
    return logits.repeat_interleave(n, 0), cache, mask.repeat_interleave(n, 0)


def _adapters(adapter_names: Sequence[str] | None, rows) -> dict:
    """The forward's `adapter_names` keyword for these rows, or nothing when every row runs the same model."""
    if adapter_names is None:
        return {}
    return {"adapter_names": [adapter_names[i] for i in (rows.tolist() if hasattr(rows, "tolist") else rows)]}


def _plain_layers(cache) -> bool:
    """True when every layer of the cache is transformers' plain DynamicLayer (keys and values, full length)."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _left_pad(states, width: int):
    """(batch, heads, length, dim) keys or values, zero-padded on the left to `width` positions."""
    import torch

    return torch.nn.functional.pad(states, (0, 0, width - states.shape[-2], 0))


def decode(model, logits, cache, mask, *, max_new_tokens: int, temperature: float, top_p: float, stop,
           pad_id: int, generator, adapter_names: Sequence[str] | None = None):
    """Tokens (rows, steps), their T=1 log-probs, and which of them belong to the response.

    Finished rows leave the batch: once an eighth of the live rows have stopped, the cache, mask and
    positions keep only the rows still decoding (`Cache.batch_select_indices`), so a few long answers
    do not drag every finished row through the remaining steps. Row order in the output is unchanged.
    The cache is given room for every new token up front (`reserve`), so a step writes one position
    instead of copying the whole cache. adapter_names: each row's LoRA adapter (see `sample_n`).
    """
    import torch

    rows, device = logits.shape[0], logits.device
    tokens = torch.full((rows, max_new_tokens), pad_id, dtype=torch.long, device=device)
    logps = torch.zeros((rows, max_new_tokens), dtype=torch.float32, device=device)
    counted = torch.zeros((rows, max_new_tokens), dtype=torch.bool, device=device)
    live = torch.arange(rows, device=device)  # original row index of each row still in the batch
    positions = mask.sum(-1, keepdim=True)  # the next token's index among each row's real tokens
    done = torch.zeros(rows, dtype=torch.bool, device=device)  # per live row
    cache_arg = cache_kwarg(model)
    reserve(cache, max_new_tokens)
    steps = 0
    for step in range(max_new_tokens):
        token = pick_tokens(logits, temperature, top_p, generator).masked_fill(done, pad_id)
        tokens[live, step] = token
        logps[live, step] = logits.log_softmax(-1).gather(-1, token[:, None]).squeeze(-1)
        counted[live, step] = ~done
        done = done | torch.isin(token, stop)
        steps = step + 1
        if done.all():
            break
        if int(done.sum()) * 8 >= len(live):  # compact: drop the finished rows from every tensor
            keep = (~done).nonzero().squeeze(-1)
            cache.batch_select_indices(keep)
            live, mask, positions, token, done = live[keep], mask[keep], positions[keep], token[keep], done[keep]
        mask = torch.cat([mask, mask.new_ones(len(live), 1)], dim=1)
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=positions, use_cache=True,
                    **{cache_arg: cache}, **_adapters(adapter_names, live))
        cache, logits, positions = cache_of(out), out.logits[:, -1].float(), positions + 1
    return tokens[:, :steps], logps[:, :steps], counted[:, :steps]


def reserve(cache, extra: int) -> None:
    """Give every layer of a dynamic KV cache room for `extra` more positions, in place.

    transformers' `DynamicLayer.update` concatenates, so each decode step copies every layer's keys
    and values: on 2 CPU cores that copy was 30% of the operator time of 20 steps at 56 rows on the
    tiny model (benchmarks/profile_decode.py). A `ReservedLayer` writes the new position into a
    preallocated buffer and hands attention a view of the filled part; the values, and so the
    decoded tokens, are the same. Layers of any other kind (sliding windows, quantized caches) are
    left as they are.
    """
    from transformers.cache_utils import DynamicLayer

    reserved = _reserved_layer_class()
    layers = getattr(cache, "layers", None)
    for i, layer in enumerate(layers or []):
        if type(layer) is DynamicLayer and layer.is_initialized and layer.get_seq_length() > 0:
            layers[i] = reserved(layer, extra)


@functools.cache
def _reserved_layer_class():
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        """A DynamicLayer whose keys and values are views of buffers with room to grow."""

        def __init__(self, layer, extra: int):
            super().__init__()
            self.is_initialized, self.device = True, layer.device
            self._room = extra
            self._allocate(layer.keys, layer.values)

        def _allocate(self, keys, values):
            batch, heads, length, dim = keys.shape
            self._k = keys.new_empty((batch, heads, length + self._room, dim))
            self._v = values.new_empty((batch, heads, length + self._room, values.shape[-1]))
            self._k[:, :, :length], self._v[:, :, :length] = keys, values
            self._length = length
            self.keys, self.values = self._k[:, :, :length], self._v[:, :, :length]

        def update(self, key_states, value_states, *args, **kwargs):
            new = key_states.shape[-2]
            if self._length + new > self._k.shape[-2]:  # out of room: grow like the plain layer would
                self._room = max(self._room, new)
                self._allocate(self.keys, self.values)
            end = self._length + new
            self._k[:, :, self._length:end], self._v[:, :, self._length:end] = key_states, value_states
            self._length = end
            self.keys, self.values = self._k[:, :, :end], self._v[:, :, :end]
            return self.keys, self.values

        def batch_select_indices(self, indices):
            self._k, self._v = self._k[indices], self._v[indices]
            self.keys, self.values = self._k[:, :, :self._length], self._v[:, :, :self._length]

        reorder_cache = batch_select_indices

        def batch_repeat_interleave(self, repeats: int):
            self._k, self._v = self._k.repeat_interleave(repeats, 0), self._v.repeat_interleave(repeats, 0)
            self.keys, self.values = self._k[:, :, :self._length], self._v[:, :, :self._length]

        def crop(self, tokens_to_remove: int):
            super().crop(tokens_to_remove)
            self._length = self.keys.shape[-2]

    return ReservedLayer


def pick_tokens(logits, temperature: float, top_p: float, generator):
    """One token per row: argmax at temperature 0, else a draw from the tempered, top-p-filtered softmax."""
    import torch

    if temperature <= 0:
        return logits.argmax(-1)
    probs = (logits / temperature).softmax(-1)
    if top_p < 1.0:
        ranked, order = probs.sort(-1, descending=True)
        beyond = ranked.cumsum(-1) - ranked > top_p  # the mass before this token already covers top_p
        probs = torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(beyond, 0.0))
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _responses(tokenizer, tokens, logps, counted, stop) -> list[dict]:
    rows = []
    stop_set = set(stop.tolist())
    for ids, lp, keep in zip(tokens.tolist(), logps.tolist(), counted.tolist()):
        ids = [t for t, k in zip(ids, keep) if k]
        values = [v for v, k in zip(lp, keep) if k]
        rows.append({"response": tokenizer.decode(ids, skip_special_tokens=True),
                     "logprob": sum(values) / len(values), "tokens": len(ids), "token_ids": ids,
                     "finished": ids[-1] in stop_set})
    return rows


def _stop_ids(model, tokenizer):
    """End-of-turn ids: the tokenizer's eos plus whatever the model's generation config lists."""
    import torch

    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return torch.tensor(sorted(i for i in ids if i is not None), device=model_device(model))


def cache_kwarg(model) -> str:
    """transformers 5.x renamed the forward argument `past_key_values` to `cache` (old name deprecated)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
