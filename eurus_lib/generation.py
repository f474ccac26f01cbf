"""Batched chat generation: many conversations, many samples each, one padded batch at a time.

    texts = generate_chat(model, tok, [[{"role": "user", "content": "What is 2 + 3?"}]], n=4)
    texts[0]  # four sampled replies to the first conversation

Prompts are always rendered with the tokenizer's chat template. Sampling many prompts in one
batch (with the KV cache) is what makes tree growth affordable on a CPU: measured on 2 cores, 16
prompts x 96 tokens took 13 s at once against about 3 s per prompt one at a time. Decoding is the
kit's own loop (`eval.sampling`: temperature, then top-p, no top-k), in which finished replies leave
the batch: 56 greedy held-out answers of up to 160 tokens took 72 s there against 110 s through
`generate`, with the same texts (benchmarks/bench_decode.py).
"""

from __future__ import annotations

from collections.abc import Sequence

Conversation = Sequence[dict]


def render_prompt(tokenizer, conversation: Conversation, add_generation_prompt: bool = True) -> str:
    """The exact text the model sees for a conversation, via the tokenizer's chat template."""
    return tokenizer.apply_chat_template(list(conversation), tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def generate_chat(model, tokenizer, conversations: Sequence[Conversation], *, n: int = 1,
                  temperature: float = 0.8, top_p: float = 0.95, max_new_tokens: int = 128,
                  batch_size: int = 16, seed: int | None = None, progress: bool | str = True,
                  adapter_names: Sequence[str] | None = None) -> list[list[str]]:
    """Sample `n` replies for each conversation; returns one list of `n` strings per conversation.

    Prompts are batched longest first (`batch_size` counts replies) and each prompt is prefilled
    once for its `n` replies; temperature 0 means greedy. With a seed, batch i samples under
    seed + i, so a rerun with the same inputs repeats itself; without one, the seed is drawn from
    torch's global generator, so `torch.manual_seed` still governs the draw. adapter_names: the LoRA
    adapter that answers each conversation, for a peft model holding several (`eval.sampling.sample_n`).
    """
    import torch

    from .eval.sampling import sample_n

    if seed is None:
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
    replies = sample_n(model, tokenizer, conversations, n, temperature=temperature, top_p=top_p,
                       max_new_tokens=max_new_tokens, seed=seed, batch_size=batch_size,
                       progress=("generating" if progress is True else progress), adapter_names=adapter_names)
    return [[r["response"] for r in group] for group in replies]
