"""Share the frozen trunk between models that differ only in their last k decoder layers (and head).

    cache = TrunkCache(k=4)                                   # rm.lora_layers / prefs.lora_layers
    out = cache.forward(model, input_ids, attention_mask)     # == model(input_ids, attention_mask), exactly
    rewards = cache.scores({"bt+dr": rm1, "bt": rm2}, tok, prompts, responses)
    cache.fill(model, [[chosen_ids, rejected_ids], ...], pad_id=tok.pad_token_id)  # a shared prompt runs once
    with cache.installed(policy):                             # every forward inside (TRL's own) reads the cache
        trainer.train()

In "merge" mode with LoRA on the last k decoder layers, every model a stage trains from the SFT
policy is the same merged SFT body in layers 0..n-k-1 (frozen, no adapters) under its own last k
layers and head: the three reward-model objectives (`rm.lora_layers`), and the reference and the
DPO, KTO and NCA policies (`prefs.lora_layers`). The hidden states entering layer n-k therefore
depend on the sequence alone: computed once, they serve every model, every training step that sees
the sequence again, and the held-out scoring. On the tiny preset (30 layers, k=4) that removes 26/30
of the decoder from all but the first use of each sequence (measured in the rm and prefs reports).

It is exact, not an approximation: the model's own forward runs, with the first n-k decoder layers
swapped for stand-ins that hand the cached states to layer n-k; embeddings, masks, rotary positions,
the top layers, the final norm and the heads are the model's. `forward` and `scores` swap them for
one call (right or left padding: states are cached per real token, keyed by the sequence's token
ids). `installed` swaps them while its block runs, for callers that own the forward call (TRL's
trainers): a forward whose sequences are all cached skips the trunk, any other runs the real layers
once and caches the result, and a forward with a KV cache (generation) runs the real layers
untouched. `fill` (which `scores` calls with the answers grouped by prompt) caches sequences that
share a prompt, a reward pair's two answers or best-of-N's N samples, with the prompt run once and
each answer continuing from its KV cache: the same states up to float rounding (the same sums in
another order). tests/test_trunk.py checks all of these against the plain forward, and the prefs
stage's reference log-probs and losses against TRL's own. `shares_trunk` refuses a model with
anything trainable or adapted below layer n-k (QLoRA "continue" or "ref_adapter" mode, full
fine-tuning): those go through the plain forward.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence

_LAYER = re.compile(r"\.layers\.(\d+)\.")


def decoder(model):
    """The decoder stack (e.g. LlamaModel) inside a sequence classifier, peft- or DDP-wrapped or not."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, base.base_model_prefix)


def shares_trunk(model, k: int) -> bool:
    """True when nothing below the last k decoder layers is adapted or trainable (so the trunk is the SFT body)."""
    if k <= 0:
        return False
    n = len(decoder(model).layers)
    for name, param in model.named_parameters():
        m = _LAYER.search(name)
        low = m is not None and int(m.group(1)) < n - k
        if low and ("lora_" in name or param.requires_grad):
            return False
        if m is None and param.requires_grad and "score" not in name:
            return False  # a trainable embedding or norm outside the layers
    return True


def installed_where_shared(cache, model):
    """`cache.installed(model)` when the model can share the trunk (`shares_trunk`), else a block that changes nothing."""
    if cache is None or not shares_trunk(model, cache.k):
        return contextlib.nullcontext()
    return cache.installed(model)


class _Pass:
    """Stands in for a skipped trunk layer: returns the hidden states it is given."""

    def __call__(self, hidden_states, *args, **kwargs):
        return hidden_states


class _Replay:
    """Stands in for the trunk: returns the cached states entering layer n-k (the pass-throughs after it keep them)."""

    def __init__(self, states):
        self.states = states

    def __call__(self, hidden_states, *args, **kwargs):
        return self.states.to(hidden_states.dtype)


class _Stop(Exception):
    pass


@contextlib.contextmanager
def _trunk_replaced(dec, k: int, first):
    """Within the block, the decoder's layers 0..n-k-1 are `first` then pass-throughs; the top k are its own.

    The list shadows the registered ModuleList on the instance only, so state dicts, saving and
    parameters are untouched.
    """
    n = len(dec.layers)
    dec.__dict__["layers"] = [first] + [_Pass()] * (n - k - 1) + list(dec.layers[n - k:])
    try:
        yield
    finally:
        del dec.__dict__["layers"]


@contextlib.contextmanager
def _top_removed(dec, k: int):
    """Within the block, the decoder runs layers 0..n-k-1 only (then its final norm)."""
    dec.__dict__["layers"] = list(dec.layers[: len(dec.layers) - k])
    try:
        yield
    finally:
        del dec.__dict__["layers"]


def _common_prefix(sequences) -> int:
    """Length of the prefix all sequences share, leaving at least one token of each after it."""
    cut = min(len(s) for s in sequences) - 1
    for seq in sequences[1:]:
        i = 0
        while i < cut and seq[i] == sequences[0][i]:
            i += 1
        cut = i
    return max(cut, 0)


def prompt_passes(dec, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[Sequence[int]]], *,
                  pad_id: int, batch_size: int, progress: bool | str = False, desc: str = "prompts"):
    """Each prompt through the decoder `dec` once, and its completions continuing from copies of its KV cache.

    Yields (batch, mask, first, parts) per group of prompts of similar length (`snug_batches`):
    `batch` indexes `prompts`, `mask` is the left-padded prompts' attention mask, `first` the decoder's
    output on them (real positions, so padding changes nothing), and `parts` yields (rows, texts,
    output) for groups of similar-length completions, each row a (position in batch, completion
    index) pair and `texts` their token ids, right-padded in `output`. Prompts without completions
    are skipped. Callers run under no_grad; this is how the prefs stage's reference log-probs and
    `TrunkCache.fill` avoid running a shared prompt once per answer.
    """
    import copy

    import torch

    from .eval.padding import model_device, pad_batch, position_ids, snug_batches
    from .eval.sampling import cache_kwarg, cache_of
    from .progress import progress_bar

    device, cache_arg = model_device(dec), cache_kwarg(dec)
    with progress_bar(len(prompts), progress if isinstance(progress, str) else desc, "prompt", bool(progress)) as bar:
        for batch in snug_batches([len(p) for p in prompts], batch_size):
            rows = [(b, j) for b, i in enumerate(batch) for j in range(len(completions[i]))]
            if rows:
                ids, mask = pad_batch([prompts[i] for i in batch], pad_id, "left", device)
                first = dec(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), use_cache=True)

                def parts(rows=rows, batch=batch, mask=mask, prompt_cache=cache_of(first)):
                    lengths = [len(completions[batch[b]][j]) for b, j in rows]
                    for group in snug_batches(lengths, batch_size):
                        part = [rows[k] for k in group]
                        owner = torch.tensor([b for b, _ in part], device=device)
                        cache = copy.deepcopy(prompt_cache)
                        cache.batch_select_indices(owner)  # one copy of a prompt's keys and values per completion
                        texts = [completions[batch[b]][j] for b, j in part]
                        cids, cmask = pad_batch(texts, pad_id, "right", device)
                        positions = mask.sum(-1)[owner, None] + torch.arange(cids.shape[1], device=device)
                        yield part, texts, dec(input_ids=cids, attention_mask=torch.cat([mask[owner], cmask], dim=1),
                                               position_ids=positions, use_cache=True, **{cache_arg: cache})

                yield batch, mask, first, parts()
            bar.update(len(batch))


def trunk_state_hook(dec, k: int, captured: list):
    """Append the hidden states leaving layer n-k-1 (entering layer n-k) to `captured` on every forward."""
    return dec.layers[len(dec.layers) - k - 1].register_forward_hook(
        lambda _m, _a, out: captured.append(out[0] if isinstance(out, tuple) else out))


def _swapped_trunk(model, k: int, states):
    """For one call: the trunk replaced by stand-ins that hand `states` to layer n-k."""
    return _trunk_replaced(decoder(model), k, _Replay(states))


class _CachedTrunk:
    """Stands in for layer 0 under `TrunkCache.installed`: the states entering layer n-k, from the cache or computed."""

    def __init__(self, cache: TrunkCache, layers, seen: dict):
        self.cache, self.layers, self.seen = cache, layers, seen

    def __call__(self, hidden_states, *args, **kwargs):
        import torch

        ids, mask = self.seen.get("ids"), self.seen.get("mask")
        if ids is None or self.seen.get("cached") or kwargs.get("use_cache") or kwargs.get("cache") is not None:
            return self._run(hidden_states, args, kwargs)  # generation or embeddings given: no key to cache under
        real = torch.ones_like(ids, dtype=torch.bool) if mask is None else mask.bool()
        if self.seen.get("positions") is None and bool((~real[:, 0] & real.any(-1)).any()):
            return self._run(hidden_states, args, kwargs)  # left padding, default positions: not the cached states
        keys = [tuple(row[m].tolist()) for row, m in zip(ids, real)]
        if all(key in self.cache.states for key in keys):
            self.cache.hits += len(keys)
            states = hidden_states.new_zeros(hidden_states.shape)
            for i, key in enumerate(keys):
                states[i, real[i]] = self.cache.states[key].to(states.dtype)
            return states
        with torch.no_grad():
            states = self._run(hidden_states, args, kwargs)
        for i, key in enumerate(keys):
            if key not in self.cache.states:
                self.cache.states[key] = states[i, real[i]].detach()
                self.cache.trunk_tokens += int(real[i].sum())
        return states.detach()

    def _run(self, hidden_states, args, kwargs):
        for layer in self.layers:
            hidden_states = layer(hidden_states, *args, **kwargs)
        return hidden_states


class TrunkCache:
    """Hidden states entering layer n-k, one tensor (real tokens x hidden) per distinct sequence."""

    def __init__(self, k: int):
        self.k = k
        self.states: dict[tuple, object] = {}
        self.trunk_tokens = 0  # tokens that went through the trunk (each sequence once)
        self.hits = 0  # sequences `installed` read from the cache

    def forward(self, model, input_ids, attention_mask, **kwargs):
        """The model's output on this batch, with the trunk read from the cache (filled first where missing)."""
        import torch

        real = attention_mask.bool()
        keys = [tuple(ids[m].tolist()) for ids, m in zip(input_ids, real)]
        missing = [i for i, key in enumerate(keys) if key not in self.states]
        if missing:
            self._fill(model, input_ids[missing], attention_mask[missing], [keys[i] for i in missing])
        first = self.states[keys[0]]
        states = torch.zeros((*input_ids.shape, first.shape[-1]), dtype=first.dtype, device=first.device)
        for i, key in enumerate(keys):
            states[i, real[i]] = self.states[key]
        with _swapped_trunk(model, self.k, states):
            return model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _fill(self, model, input_ids, attention_mask, keys):
        import torch

        captured = {}

        def hook(module, args, output):
            captured["states"] = output[0] if isinstance(output, tuple) else output
            raise _Stop  # the layers above are not needed for the cache

        layer = decoder(model).layers[-self.k - 1]
        handle = layer.register_forward_hook(hook)
        real = attention_mask.bool()
        with torch.no_grad():
            try:
                model(input_ids=input_ids, attention_mask=attention_mask, position_ids=_positions(attention_mask))
            except _Stop:
                pass
            finally:
                handle.remove()
        for i, key in enumerate(keys):
            self.states[key] = captured["states"][i, real[i]].detach()
        self.trunk_tokens += int(real.sum())

    def fill(self, model, groups: Sequence[Sequence[Sequence[int]]], *, pad_id: int, batch_size: int = 8,
             progress: bool | str = False) -> None:
        """Cache the states of every sequence in `groups`, running each group's common prefix once.

        The sequences of a group share a prompt (a pair's two answers, the N samples of one problem):
        the prefix is prefilled once, left-padded with its real positions, and each sequence's rest
        continues from a copy of its KV cache, as `prefs.prefix` scores completions. Only layers
        0..n-k-1 run. The states equal the full-sequence forward's up to float rounding (the same
        sums in another order; tests/test_trunk.py). Already cached sequences are skipped; a group
        without a common prefix goes through the plain fill.
        """
        import torch

        from .eval.padding import model_device

        work, claimed = [], set()  # (prefix, tails) per group with something to compute
        for group in groups:
            todo = [s for s in dict.fromkeys(map(tuple, group)) if s not in self.states and s not in claimed]
            if not todo:
                continue
            claimed.update(todo)
            cut = _common_prefix(todo)
            if cut == 0:
                for seq in todo:
                    ids = torch.tensor([seq], device=model_device(model))
                    self._fill(model, ids, torch.ones_like(ids), [seq])
                continue
            work.append((todo[0][:cut], [seq[cut:] for seq in todo]))
        if not work:
            return
        dec = decoder(model)
        captured: list = []
        hook = trunk_state_hook(dec, self.k, captured)
        try:
            with torch.no_grad(), _top_removed(dec, self.k):
                passes = prompt_passes(dec, [w[0] for w in work], [w[1] for w in work], pad_id=pad_id,
                                       batch_size=batch_size, progress=progress, desc="trunk")
                for batch, mask, _first, parts in passes:
                    prompt_states = captured.pop()
                    self.trunk_tokens += int(mask.sum())
                    for part, tails, _out in parts:
                        tail_states = captured.pop()
                        for r, ((b, _), tail) in enumerate(zip(part, tails)):
                            self.states[work[batch[b]][0] + tuple(tail)] = torch.cat(
                                [prompt_states[b, mask[b].bool()], tail_states[r, : len(tail)]]).clone()
                            self.trunk_tokens += len(tail)
        finally:
            hook.remove()

    @contextlib.contextmanager
    def installed(self, model):
        """While the block runs, every forward of `model` takes layers 0..n-k-1 from the cache (filled where missing).

        For right-padded batches without position_ids or with positions 0..len-1 (TRL's collators); a
        batch with a KV cache or with inputs_embeds in place of input_ids runs the real layers.
        """
        dec = decoder(model)
        n = len(dec.layers)
        seen = {}

        def remember(module, args, kwargs):
            seen["ids"] = kwargs.get("input_ids", args[0] if args else None)
            seen["mask"] = kwargs.get("attention_mask")
            seen["positions"] = kwargs.get("position_ids")
            seen["cached"] = kwargs.get("past_key_values") is not None or kwargs.get("cache") is not None

        handle = dec.register_forward_pre_hook(remember, with_kwargs=True)
        try:
            with _trunk_replaced(dec, self.k, _CachedTrunk(self, list(dec.layers[: n - self.k]), seen)):
                yield self
        finally:
            handle.remove()

    def scores(self, models: Mapping[str, object], tok, prompts: Sequence, responses: Sequence[str], *,
               batch_size: int = 16, progress: bool | str = False) -> dict[str, list[float]]:
        """Each model's reward for every (prompt, response), as `reward_scores` gives it, with one trunk pass."""
        import torch

        from .eval.padding import length_sorted_batches, model_device, pad_batch
        from .progress import progress_bar
        from .rm.data import reward_input_ids

        rows = [reward_input_ids(tok, p, r) for p, r in zip(prompts, responses, strict=True)]
        out = {name: [0.0] * len(rows) for name in models}
        device = model_device(next(iter(models.values())))
        by_prompt: dict[str, list] = {}  # the answers to one prompt share its trunk states
        for prompt, row in zip(prompts, rows):
            by_prompt.setdefault(repr(prompt), []).append(row)
        self.fill(next(iter(models.values())), list(by_prompt.values()), pad_id=tok.pad_token_id,
                  batch_size=batch_size, progress=f"{progress}: trunk" if isinstance(progress, str) else progress)
        desc = progress if isinstance(progress, str) else "rewarding"
        with torch.inference_mode(), progress_bar(len(rows), desc, "answer", bool(progress)) as bar:
            for batch in length_sorted_batches([len(r) for r in rows], batch_size):
                ids, mask = pad_batch([rows[i] for i in batch], tok.pad_token_id, "right", device)
                for name, model in models.items():
                    logits = self.forward(model, ids, mask, position_ids=_positions(mask)).logits
                    for i, value in zip(batch, logits[:, 0].float().tolist()):
                        out[name][i] = value
                bar.update(len(batch))
        return out


def _positions(mask):
    from .eval.padding import position_ids

    return position_ids(mask)
