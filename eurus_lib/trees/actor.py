"""Actors: the models that write actions (paper section 2.2), behind one small interface.

    actor = ModelActor("smollm2-135m", model, tok, temperature=0.8, top_p=0.95, max_new_tokens=128)
    texts = actor.sample(conversations, seed=0)   # one reply per conversation, in one batched call

The tree grower asks each actor for many actions at once (every live tree's prompt, several
samples each), so a local model runs them as padded batches through `generate_chat`. The
paper samples correct and incorrect actions from different models and moves to a stronger
model when no correct action turns up (section 2.3); `trees.actors` lists them weakest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..generation import generate_chat
from . import openai_api


class ModelActor:
    """A local chat model sampled in batches."""

    def __init__(self, name: str, model, tokenizer, *, temperature: float = 0.8, top_p: float = 0.95,
                 max_new_tokens: int = 192, batch_size: int = 16):
        self.name, self.model, self.tokenizer = name, model, tokenizer
        self.options = {"temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens,
                        "batch_size": batch_size}

    def sample(self, conversations: Sequence[list[dict]], seed: int | None = None,
               adapter_names: Sequence[str] | None = None) -> list[str]:
        """One sampled reply per conversation (pass a conversation twice for two samples).

        adapter_names: per conversation, the LoRA adapter that answers it, when the model holds
        several (`eval.sampling.sample_n`).
        """
        if not conversations:
            return []
        out = generate_chat(self.model, self.tokenizer, conversations, n=1, seed=seed, progress=False,
                            adapter_names=adapter_names, **self.options)
        return [replies[0] for replies in out]


class OpenAIActor:
    """An actor served behind an OpenAI-compatible endpoint; requests go out in parallel."""

    def __init__(self, spec: str, *, temperature: float = 0.8, top_p: float = 0.95, max_new_tokens: int = 192,
                 workers: int = 8):
        self.url, self.model_name = openai_api.parse_spec(spec)
        self.name = f"openai:{self.model_name}"
        self.options = {"temperature": temperature, "top_p": top_p, "max_tokens": max_new_tokens}
        self.workers = workers

    def sample(self, conversations: Sequence[list[dict]], seed: int | None = None) -> list[str]:
        def one(conv):
            return openai_api.chat(self.url, self.model_name, list(conv), n=1, **self.options)[0]

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, conversations))


def load_actors(settings, model_settings, device: str, *, policy=None) -> list:
    """Actors from `trees.actors` (weakest first); empty means the policy model alone.

    policy: an already loaded (model, tokenizer) for `model.policy`, reused instead of loading it again.
    """
    from ..models import load_policy

    specs = list(settings.actors) or [model_settings.policy]
    options = {"temperature": settings.temperature, "top_p": settings.top_p,
               "max_new_tokens": settings.max_new_tokens}
    actors = []
    for spec in specs:
        if spec.startswith("openai:"):
            actors.append(OpenAIActor(spec, **options))
            continue
        model, tok = policy if (policy is not None and spec == model_settings.policy) else \
            load_policy(spec, model_settings, device=device)
        actors.append(ModelActor(actor_name(spec), model, tok, batch_size=settings.batch_size, **options))
    return actors


def actor_name(spec: str) -> str:
    """A short, stable name for the rows' source field: 'embedded:smollm2-135m' -> 'smollm2-135m'."""
    return spec.split(":", 1)[1] if spec.startswith("embedded:") else spec.rstrip("/").split("/")[-1]
