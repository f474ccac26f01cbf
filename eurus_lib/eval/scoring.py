"""Batched scoring of answers: log p(response | prompt) under a policy, and a reward model's score.

    from eurus_lib.models import load_policy
    from eurus_lib.eval.scoring import sequence_logprobs

    model, tok = load_policy("embedded:smollm2-135m")
    prompt = [{"role": "user", "content": "What is 2 + 3?"}]
    sequence_logprobs(model, tok, [prompt, prompt], ["5", "It is 7."])   # two summed log-probs

Each (conversation, response) is rendered with the chat template; the response's tokens are
what the full conversation adds after the prompt with its generation prompt, so the assistant's
end-of-turn tokens count too. Prompt and response are tokenized separately (as TRL's DPOTrainer
does), so the boundary never merges into one token and generated token ids re-score exactly.

Rows are scored in length-sorted, padded batches under `torch.inference_mode`; position ids
count real tokens only, so left and right padding give the one-at-a-time numbers (checked by
tests/test_eval_scoring.py to fp32 rounding). Batched scoring of 256 answers against one at a
time: benchmarks/bench_scoring.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DataError, KitError
from ..generation import render_prompt
from ..progress import progress_bar
from .padding import length_sorted_batches, model_device, pad_batch, position_ids, token_ids

Conversation = Sequence[dict]


def encode_response(tokenizer, conversation: Conversation, response: str) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) of one answer, exactly as the chat template renders them."""
    prompt = render_prompt(tokenizer, conversation)
    full = render_prompt(tokenizer, [*conversation, {"role": "assistant", "content": response}],
                         add_generation_prompt=False)
    if not full.startswith(prompt):
        raise DataError("The chat template renders the prompt differently once an answer follows it, so the "
                        "answer's tokens cannot be told apart; use a tokenizer whose template appends turns.")
    return token_ids(tokenizer, prompt), token_ids(tokenizer, full[len(prompt):])


def sequence_logprobs(model, tokenizer, prompts: Sequence[Conversation], responses: Sequence[str], *,
                      batch_size: int = 8, padding_side: str = "right", average: bool = False,
                      progress: bool | str = False) -> list[float]:
    """log p(response | prompt) summed over the response's tokens (their mean with `average`), one per row."""
    rows = [encode_response(tokenizer, p, r) for p, r in zip(prompts, responses, strict=True)]
    return response_logprobs(model, rows, pad_id=tokenizer.pad_token_id, batch_size=batch_size,
                             padding_side=padding_side, average=average, progress=progress)


def response_logprobs(model, rows: Sequence[tuple[Sequence[int], Sequence[int]]], *, pad_id: int,
                      batch_size: int = 8, padding_side: str = "right", average: bool = False,
                      progress: bool | str = False) -> list[float]:
    """The same on token ids: rows of (prompt ids, response ids), e.g. what `sample_n` generated."""
    import torch

    if any(not r for _, r in rows):
        raise DataError("An answer has no tokens to score; drop empty answers before scoring.")
    out = [0.0] * len(rows)
    desc = progress if isinstance(progress, str) else "scoring"
    with torch.inference_mode(), progress_bar(len(rows), desc, "answer", bool(progress)) as bar:
        for batch in length_sorted_batches([len(p) + len(r) for p, r in rows], batch_size):
            sums = _batch_logprobs(model, [rows[i] for i in batch], pad_id, padding_side)
            for i, value in zip(batch, sums):
                out[i] = value / len(rows[i][1]) if average else value
            bar.update(len(batch))
    return out


def _batch_logprobs(model, rows, pad_id: int, side: str) -> list[float]:
    """Loss-style masking: token t is scored by the logits at t - 1, and only response tokens count.

    Logits are computed only from the first response's position on (`logits_to_keep`): the LM
    head over a 49k vocabulary is a large share of a small model's work, and prompts never need it.
    """
    ids, mask = pad_batch([list(p) + list(r) for p, r in rows], pad_id, side, model_device(model))
    width = ids.shape[1]
    starts = [len(p) if side == "right" else width - len(r) for p, r in rows]
    first = min(starts) - 1  # the logits at `first` predict the earliest response token
    if first < 0:
        raise DataError("A row has an empty prompt; nothing predicts its first token.")
    logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask),
                   logits_to_keep=width - first).logits[:, :-1].float()
    targets = ids[:, first + 1:]
    scored = _response_mask(starts, rows, width).to(ids.device)[:, first + 1:]
    token_logps = logits.gather(-1, targets[..., None]).squeeze(-1) - logits.logsumexp(-1)
    return (token_logps * scored).sum(-1).tolist()


def _response_mask(starts, rows, width: int):
    import torch

    mask = torch.zeros((len(rows), width))
    for i, (start, (_, r)) in enumerate(zip(starts, rows)):
        mask[i, start:start + len(r)] = 1.0
    return mask


def reward_scores(reward_model, tokenizer, prompts: Sequence[Conversation], responses: Sequence[str], *,
                  batch_size: int = 8, padding_side: str = "right", progress: bool | str = False) -> list[float]:
    """The reward model's scalar for each (conversation, response), rendered with the chat template.

    A sequence-classification head reads the last token that is not the pad token: transformers
    takes the rightmost non-pad position of each row (huggingface/transformers#35911), the same
    token whatever the padding side or the other rows in the batch, and the same one the reward
    trainer trained on. Before that fix it took the position before the *first* pad id, which is
    an early `<|im_end|>` when the pad token is also the end-of-turn token, as for SmolLM2
    (huggingface/transformers#35352); the one-at-a-time check in tests/test_eval_scoring.py
    would catch a return of that.
    """
    import torch

    _check_pad_token(reward_model, tokenizer)
    rows = [token_ids(tokenizer, render_prompt(tokenizer, [*p, {"role": "assistant", "content": r}],
                                               add_generation_prompt=False))
            for p, r in zip(prompts, responses, strict=True)]
    out = [0.0] * len(rows)
    desc = progress if isinstance(progress, str) else "rewarding"
    with torch.inference_mode(), progress_bar(len(rows), desc, "answer", bool(progress)) as bar:
        for batch in length_sorted_batches([len(r) for r in rows], batch_size):
            ids, mask = pad_batch([rows[i] for i in batch], tokenizer.pad_token_id, padding_side,
                                  model_device(reward_model))
            logits = reward_model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask)).logits
            for i, value in zip(batch, logits[:, 0].float().tolist()):
                out[i] = value
            bar.update(len(batch))
    return out


def _check_pad_token(reward_model, tokenizer) -> None:
    """The head finds each row's last token by the pad id, so model and tokenizer must agree on it."""
    pad = getattr(getattr(reward_model, "config", None), "pad_token_id", None)
    if pad is None or pad != tokenizer.pad_token_id:
        raise KitError(f"The reward model's config.pad_token_id is {pad} but the tokenizer pads with "
                       f"{tokenizer.pad_token_id}; set reward_model.config.pad_token_id = tokenizer.pad_token_id "
                       "(eurus_lib.models.load_reward_model does).")
