"""Summed log-probs of several completions of one prompt, with the prompt run once.

    logps = completion_logps(model, prompts, completions, batch_size=8, trunk=cache)
    logps[i][j]   # sum over completion j of prompt i of log π(token | everything before it)

A preference pair's chosen and rejected answers follow the same prompt, and KTO's KL rows put the
same prompts in front of another pair's answers: on the tiny run a prompt (the multi-turn history)
is about 290 tokens and an answer about 100, so scoring each (prompt, answer) sequence on its own,
as TRL's precompute does, runs every prompt four times. Here each prompt goes through the model
once, left-padded with its real positions (`eval.padding`), its KV cache is repeated once per
completion (`Cache.batch_select_indices` with repeated rows), and the completions continue from it
in groups of similar length, so little of a group is padding. The first completion token is scored from the prompt's last position, the others from
the continuation, so the sum is over exactly the tokens TRL's collator marks as completion
(callers truncate prompt + completion to max_length first, as it does). The log-probs come from the
model's own output embedding over the decoder's normed states: for heads that scale or soft-cap
their logits (`plain_head` is False) callers use TRL's precompute instead.

With `trunk` (a `trunk.TrunkCache`), the hidden states entering layer n-k of every full sequence
(prompt states, then the completion's) are stored under the sequence's token ids, as
`TrunkCache.installed` stores them, so training reads them instead of running the frozen layers.
tests/test_prefs_reference.py checks the values against DPOTrainer's and KTOTrainer's own.
"""

from __future__ import annotations

from collections.abc import Sequence


def completion_logps(model, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[Sequence[int]]], *,
                     pad_id: int, batch_size: int = 8, trunk=None, progress: bool | str = False) -> list[list[float]]:
    """logps[i][j]: summed log-probs of completions[i][j] (token ids, non-empty) after prompts[i]."""
    import torch

    from ..eval.padding import model_device
    from ..trunk import decoder, prompt_passes, trunk_state_hook

    if any(len(c) == 0 for group in completions for c in group):
        raise ValueError("every completion needs at least one token; truncate prompt + completion, not the prompt")
    dec, head, device = decoder(model), model.get_output_embeddings(), model_device(model)
    captured: list = []
    hook = trunk_state_hook(dec, trunk.k, captured) if trunk is not None else None
    out = [[0.0] * len(group) for group in completions]
    try:
        with torch.no_grad():
            passes = prompt_passes(dec, prompts, completions, pad_id=pad_id, batch_size=batch_size,
                                   progress=progress, desc="reference log-probs")
            for batch, mask, first, parts in passes:
                last = torch.log_softmax(head(first.last_hidden_state[:, -1]).float(), dim=-1)
                if trunk is not None:
                    prompt_states = captured.pop()
                    trunk.trunk_tokens += int(mask.sum())
                for part, texts, rest in parts:
                    for r, ((b, j), text) in enumerate(zip(part, texts)):
                        target = torch.tensor(text, device=device)
                        total = last[b, target[0]]
                        if len(text) > 1:
                            logp = torch.log_softmax(head(rest.last_hidden_state[r, : len(text) - 1]).float(), dim=-1)
                            total = total + logp.gather(-1, target[1:, None]).sum()
                        out[batch[b]][j] = float(total)
                    if trunk is not None:  # the full sequences' states entering layer n-k, as `installed` keys them
                        tail_states = captured.pop()
                        for r, ((b, _), text) in enumerate(zip(part, texts)):
                            key = tuple(prompts[batch[b]]) + tuple(text)
                            trunk.states[key] = torch.cat([prompt_states[b, mask[b].bool()],
                                                           tail_states[r, : len(text)]]).clone()
                            trunk.trunk_tokens += len(text)
    finally:
        if hook is not None:
            hook.remove()
    return out


def plain_head(model) -> bool:
    """True when the model's logits are its output embedding applied to the decoder's output, nothing more."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return not any(getattr(config, name, None) for name in
                   ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                    "logits_scaling"))
