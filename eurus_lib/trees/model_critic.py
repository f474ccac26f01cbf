"""Model critics: a local chat model or an OpenAI-compatible endpoint writes the critique.

    critic = make_critic("openai:http://localhost:8000/v1#Qwen2.5-72B-Instruct", settings)
    critic.critique_many([CritiqueRequest(task, action, outcome)])

Both see what the paper's GPT-4 critic saw (section 2.2): the problem, the ground-truth answer
and solution as reference, the action and its observation. They are told not to give the
answer away. When a model writes nothing, the rule critique stands in, and the critic's
`fallbacks` counts how often that happened (a tiny model can fall silent).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..errors import ConfigError
from . import openai_api
from .critic import CritiqueRequest, RuleCritic, rule_critique

SYSTEM = ("You are an expert teacher reviewing a student's attempt at a problem. You know the correct answer. "
          "Point out the first mistake in the attempt and say how to fix it, in at most three sentences. "
          "Do not state the correct final answer.")


def critic_messages(request: CritiqueRequest) -> list[dict]:
    """The chat a model critic answers."""
    task, outcome = request.task, request.outcome
    reference = task.rationale or task.solution
    user = (f"Problem:\n{task.prompt}\n\nCorrect answer: {task.answer or '(passes the unit tests)'}\n"
            f"Reference solution:\n{reference}\n\nStudent's attempt:\n{request.action}\n\n"
            f"Execution output:\n{outcome.observation or '(no code was run)'}\n\nYour feedback:")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


class _FallsBackToRules:
    """critique_many = the model's own texts, with the rule critique where a text is empty (counted)."""

    fallbacks = 0  # critiques the rule critic wrote because the model wrote nothing

    def model_critiques(self, requests: Sequence[CritiqueRequest]) -> list[str]:
        raise NotImplementedError

    def critique_many(self, requests: Sequence[CritiqueRequest]) -> list[str]:
        out = []
        for text, r in zip(self.model_critiques(requests), requests, strict=True):
            text = (text or "").strip()
            if not text:
                self.fallbacks += 1
                text = rule_critique(r.task, r.action, r.outcome)
            out.append(text)
        return out


class ModelCritic(_FallsBackToRules):
    """A local chat model as critic (greedy, batched)."""

    def __init__(self, name: str, model, tokenizer, *, max_new_tokens: int = 128, batch_size: int = 16):
        self.name, self.model, self.tokenizer = name, model, tokenizer
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size

    def model_critiques(self, requests: Sequence[CritiqueRequest]) -> list[str]:
        """What the model writes for each request, as is (possibly empty)."""
        from ..generation import generate_chat

        if not requests:
            return []
        out = generate_chat(self.model, self.tokenizer, [critic_messages(r) for r in requests], n=1,
                            temperature=0.0, max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                            progress=False)
        return [texts[0] for texts in out]


class OpenAICritic(_FallsBackToRules):
    """A critic served behind an OpenAI-compatible endpoint (e.g. a large open model under vLLM)."""

    def __init__(self, spec: str, *, max_new_tokens: int = 256, workers: int = 8):
        self.url, self.model_name = openai_api.parse_spec(spec)
        self.name = f"openai:{self.model_name}"
        self.max_new_tokens, self.workers = max_new_tokens, workers

    def model_critiques(self, requests: Sequence[CritiqueRequest]) -> list[str]:
        """What the endpoint answers for each request, as is (possibly empty)."""
        def one(r):
            return openai_api.chat(self.url, self.model_name, critic_messages(r), temperature=0.0,
                                   max_tokens=self.max_new_tokens)[0]

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, requests))


def make_critic(spec: str, settings, model_settings=None, device: str = "cpu"):
    """The critic named by `trees.critic`: 'rule', 'model:<model spec>' or 'openai:<url>#<model>'."""
    if spec == "rule":
        return RuleCritic()
    if spec.startswith("openai:"):
        return OpenAICritic(spec, max_new_tokens=settings.critic_max_new_tokens)
    if spec.startswith("model:"):
        from ..models import load_policy
        from .actor import actor_name

        model_spec = spec.split(":", 1)[1]
        model, tok = load_policy(model_spec, model_settings, device=device)
        return ModelCritic(actor_name(model_spec), model, tok, max_new_tokens=settings.critic_max_new_tokens,
                           batch_size=settings.batch_size)
    raise ConfigError(f"trees.critic={spec!r} is not a critic; use 'rule', 'model:<model spec>' or "
                      "'openai:<base url>#<model>'.")
