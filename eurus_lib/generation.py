"""Batched chat generation: many conversations, many samples each, one padded batch at a time.

    texts = generate_chat(model, tok, [[{"role": "user", "content": "What is 2 + 3?"}]], n=4)
    texts[0]  # four sampled replies to the first conversation

Prompts are always rendered with the tokenizer's chat template. Sampling many prompts in one
`generate` call (with the KV cache) is what makes tree growth affordable on a CPU: measured on
2 cores, 16 prompts x 96 tokens took 13 s at once against about 3 s per prompt one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from .progress import progress_bar

Conversation = Sequence[dict]


def render_prompt(tokenizer, conversation: Conversation, add_generation_prompt: bool = True) -> str:
    """The exact text the model sees for a conversation, via the tokenizer's chat template."""
    return tokenizer.apply_chat_template(list(conversation), tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def generate_chat(model, tokenizer, conversations: Sequence[Conversation], *, n: int = 1,
                  temperature: float = 0.8, top_p: float = 0.95, max_new_tokens: int = 128,
                  batch_size: int = 16, seed: int | None = None, progress: bool | str = True) -> list[list[str]]:
    """Sample `n` replies for each conversation; returns one list of `n` strings per conversation.

    Requests are sorted by prompt length so each batch pads little; temperature 0 means greedy.
    With a seed, batch i samples under seed + i, so a rerun with the same inputs repeats itself.
    """
    prompts = [render_prompt(tokenizer, conv) for conv in conversations]
    order = _length_sorted([(i, p) for i, p in enumerate(prompts) for _ in range(n)], tokenizer)
    out: list[list[str]] = [[] for _ in prompts]
    desc = progress if isinstance(progress, str) else "generating"
    with progress_bar(len(order), desc, unit="sample", enabled=bool(progress)) as bar:
        for b, start in enumerate(range(0, len(order), batch_size)):
            chunk = order[start:start + batch_size]
            texts = _generate_batch(model, tokenizer, [p for _, p in chunk], temperature=temperature, top_p=top_p,
                                    max_new_tokens=max_new_tokens, seed=None if seed is None else seed + b)
            for (i, _), text in zip(chunk, texts):
                out[i].append(text)
            bar.update(len(chunk))
    return out


def _generate_batch(model, tokenizer, prompts: list[str], *, temperature: float, top_p: float,
                    max_new_tokens: int, seed: int | None) -> list[str]:
    import torch

    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(_device_of(model))
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else \
        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    if seed is not None:
        torch.manual_seed(seed)
    with torch.inference_mode():
        ids = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             **sampling)
    new = ids[:, enc["input_ids"].shape[1]:]
    return tokenizer.batch_decode(new, skip_special_tokens=True)


def _length_sorted(items: list[tuple[int, str]], tokenizer) -> list[tuple[int, str]]:
    unique = list(dict.fromkeys(p for _, p in items))  # n samples share one prompt: measure it once
    lengths = dict(zip(unique, (len(ids) for ids in tokenizer(unique, add_special_tokens=False)["input_ids"])))
    return sorted(items, key=lambda it: -lengths[it[1]])


def _device_of(model):
    try:
        return next(model.parameters()).device
    except StopIteration:
        return "cpu"
