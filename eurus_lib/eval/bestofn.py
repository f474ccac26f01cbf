"""Best-of-N reranking (paper section 5, Fig. 4, Table 9): pick one of N samples, score the pick.

    samples = [[{"response": "...", "logprob": -0.4, "predicted": "7", "family": "math",
                 "rewards": {"bt+dr": 1.3}}, ...], ...]        # per problem, N sample dicts
    correct = [[s["correct"] for s in group] for group in samples]
    curve = best_of_n_curve(samples, correct, Ns=(1, 2, 4, 8), selectors=standard_selectors(["bt+dr"]))
    curve["pass@1"]["random"], curve["oracle"]            # one value per N

A selector is a function (samples of one problem, random.Random) -> index of the pick. For each
N the curve uses the first N samples of every problem, so N=4 extends N=2 rather than redrawing
it. The oracle is pass@N (any of the N is correct): no selector can beat it.

Selectors (Table 9's rows):
- `pick_random`: uniform over the N.
- `pick_top_logprob`: highest mean token log-probability under the policy ("Top logits").
- `pick_self_consistency`: the majority final answer (Wang et al. 2023). Math and logic vote on
  the answer the judge read (`predicted`), numbers compared by value ("7.0" and "$7" are one
  vote); code has no final answer, so code votes on its program text normalised through Python's
  ast (comments, blank lines and formatting do not split votes; renamed variables still do).
  Ties go to the group holding the highest log-probability sample, and the pick within the
  winning group is its top log-probability sample: at N=2 two different answers tie, so
  self-consistency equals top log-probability there, as Table 9's N=2 columns show.
- `pick_by_reward(name)`: highest reward model score `sample["rewards"][name]`.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Mapping, Sequence

from ..errors import KitError
from ..tasks import extract_final_answer, format_number, parse_number
from ..trees.actions import parse_action

Selector = Callable[[Sequence[dict], random.Random], int]


def pick_random(samples: Sequence[dict], rng: random.Random) -> int:
    return rng.randrange(len(samples))


def pick_top_logprob(samples: Sequence[dict], rng: random.Random | None = None) -> int:
    """The first of the samples with the highest mean token log-probability."""
    return max(range(len(samples)), key=lambda i: (samples[i]["logprob"], -i))


def pick_by_reward(name: str = "reward") -> Selector:
    """A selector taking the sample with the highest `sample["rewards"][name]` (the first on ties)."""
    def pick(samples: Sequence[dict], rng: random.Random | None = None) -> int:
        return max(range(len(samples)), key=lambda i: (samples[i]["rewards"][name], -i))

    pick.__name__ = f"reward:{name}"
    return pick


def pick_self_consistency(samples: Sequence[dict], rng: random.Random | None = None) -> int:
    """The top log-probability sample of the most common answer (see the module docstring)."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        key = vote_key(s)
        if key is not None:
            groups.setdefault(key, []).append(i)
    if not groups:  # nobody gave an answer to vote on
        return pick_top_logprob(samples)
    best = _top(samples)
    winner = max(groups.values(), key=lambda g: (len(g), max(best(i) for i in g)))
    return max(winner, key=best)


def _top(samples: Sequence[dict]) -> Callable[[int], tuple]:
    return lambda i: (samples[i].get("logprob", 0.0), -i)


def vote_key(sample: dict) -> str | None:
    """What a sample votes for: its normalised final answer, or its normalised program for code."""
    if sample.get("family") == "code":
        code = parse_action(sample.get("response", "")).code
        return normalise_code(code) if code.strip() else None
    predicted = sample.get("predicted")
    if predicted is None or not str(predicted).strip():
        return None
    value = extract_final_answer(str(predicted), printed=True) or str(predicted)  # as answers_match reads it
    number = parse_number(value)
    return format_number(number) if number is not None else " ".join(value.casefold().split())


def normalise_code(code: str) -> str:
    """Program text with comments and formatting removed (ast round trip); plain stripping if it does not parse."""
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError):
        lines = (ln.split("#", 1)[0].rstrip() for ln in code.splitlines())
        return "\n".join(ln for ln in lines if ln.strip())


def standard_selectors(reward_names: Sequence[str] = ()) -> dict[str, Selector]:
    """Table 9's rows: random, top log-probability, self-consistency, then one per reward model."""
    selectors: dict[str, Selector] = {"random": pick_random, "top logprob": pick_top_logprob,
                                      "self-consistency": pick_self_consistency}
    selectors.update({f"RM {name}": pick_by_reward(name) for name in reward_names})
    return selectors


def best_of_n_curve(samples: Sequence[Sequence[dict]], correct: Sequence[Sequence[bool]],
                    Ns: Sequence[int] = (1, 2, 4, 8, 16), selectors: Mapping[str, Selector] | None = None, *,
                    seed: int = 0) -> dict:
    """pass@1 of each selector's pick among the first N samples, per N, and the oracle pass@N.

    Returns {"N": [...], "problems": P, "pass@1": {selector: [one value per N]}, "oracle": [...]}.
    """
    selectors = standard_selectors() if selectors is None else selectors
    _check_sizes(samples, correct, Ns)
    curve = {"N": list(Ns), "problems": len(samples), "pass@1": {name: [] for name in selectors}, "oracle": []}
    for n in Ns:
        for name, select in selectors.items():
            hits = [bool(flags[select(group[:n], _rng(seed, name, p, n))])
                    for p, (group, flags) in enumerate(zip(samples, correct))]
            curve["pass@1"][name].append(_mean(hits))
        curve["oracle"].append(_mean([any(flags[:n]) for flags in correct]))
    return curve


def _rng(seed: int, selector: str, problem: int, n: int) -> random.Random:
    """One stream per (selector, problem, N): a pick never depends on which other selectors ran."""
    return random.Random(f"{seed}:{selector}:{problem}:{n}")


def _check_sizes(samples, correct, Ns) -> None:
    if len(samples) != len(correct):
        raise KitError(f"best-of-N got samples for {len(samples)} problems but correctness for {len(correct)}.")
    for p, (group, flags) in enumerate(zip(samples, correct)):
        if len(group) != len(flags) or len(group) < max(Ns):
            raise KitError(f"best-of-N with N up to {max(Ns)} needs that many judged samples per problem; "
                           f"problem {p} has {len(group)} samples and {len(flags)} judgements.")


def _mean(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else 0.0
