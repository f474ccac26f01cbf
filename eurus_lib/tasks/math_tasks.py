"""Multi-step math word problems, each with a solution program and a worded rationale.

    >>> task = math_task(random.Random(0), difficulty=3)
    >>> print(task.prompt)
    Sara starts with 19 bottles. On Monday, Sara sells 11 of the bottles. On Tuesday, ...

A problem is a running count of one kind of item that a chain of operations changes (buy,
lose, a percentage, a fraction, equal sharing, a gift from a second person); the last
operation may turn the count into money. Difficulty sets the number of operations
(`STEPS`), so difficulty 1 is one step and 5 is eight. The answer is computed exactly here;
the solution program recomputes it (tests run every program and compare), and the rationale
walks the same steps in words ("Step 1: ..."), like the ground-truth rationales of GSM8K and
MATH that UltraInteract gives the actor as a last resort (paper section 2.3).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from math import gcd

from .answers import format_number
from .base import Task
from .words import names, pool_half, task_id, words

STEPS = {1: 1, 2: 2, 3: 4, 4: 6, 5: 8}
POT_SHARE = 0.5  # Table 1: about half the math instructions are tool (PoT) ones
MAX_COUNT = 5000
FRACTIONS = {(1, 2): "half", (1, 3): "a third", (2, 3): "two thirds", (1, 4): "a quarter",
             (3, 4): "three quarters", (1, 5): "a fifth", (2, 5): "two fifths", (3, 5): "three fifths"}
TIMES = {2: "doubles", 3: "triples", 4: "quadruples"}


@dataclass
class _Ctx:
    rng: random.Random
    name: str
    others: list  # people who appear once each (a gift), never reused
    scene: dict
    var: str


@dataclass
class _Step:
    sentence: str  # text of the problem
    code: str  # line(s) of the solution program
    reason: str  # worded rationale (without the "Step k:" label)
    value: int  # the count after this step


def math_task(rng: random.Random, difficulty: int, dataset: str = "tiny-math", pool: str = "train") -> Task:
    """One word problem of `STEPS[difficulty]` operations, labelled Math_CoT or Math_PoT."""
    scene = rng.choice(pool_half(words("math")["scenes"], pool))
    name, *others = names(rng, 1 + STEPS[5], pool)
    ctx = _Ctx(rng, name, others, scene, scene["item"])
    n_ops = STEPS[difficulty]
    money = n_ops >= 2 and rng.random() < 0.35
    steps = [_start(ctx)]
    for when in _whens(rng, n_ops - money):
        steps.append(_next_step(ctx, steps[-1].value, when))
    question, final = _money(ctx, steps[-1].value) if money else _count_question(ctx, steps[-1].value)
    prompt = " ".join([s.sentence for s in steps] + [question])
    return Task(
        id=task_id("math", prompt), family="math", task="Math_PoT" if rng.random() < POT_SHARE else "Math_CoT",
        dataset=dataset, prompt=prompt, answer=final[0], solution=_program(steps, final),
        rationale=_rationale(steps, final), difficulty=difficulty,
        meta={"answer_kind": "number", "steps": n_ops},
    )


def _whens(rng: random.Random, n: int) -> list[str]:
    data = words("math")
    if n <= len(data["days"]):
        return sorted(rng.sample(data["days"], n), key=data["days"].index)
    return [rng.choice(data["connectors"]) for _ in range(n)]


def _start(c: _Ctx) -> _Step:
    v = c.rng.randint(6, 48)
    sentence = c.rng.choice(["{n} has {v} {i}.", "{n} starts with {v} {i}.", "At first, {n} owns {v} {i}.",
                             "{n} keeps {v} {i} at home."])
    return _Step(sentence.format(n=c.name, v=v, i=c.var), f"{c.var} = {v}", f"{c.name} starts with {v} {c.var}.", v)


def _next_step(c: _Ctx, v: int, when: str) -> _Step:
    ops = [_gain, _gain_boxes, _lose, _times, _fraction, _percent, _share, _gift]
    while True:
        step = c.rng.choice(ops)(c, v, when)
        if step is not None and 0 < step.value <= MAX_COUNT:
            return step


def _gain(c: _Ctx, v: int, when: str) -> _Step:
    n, verb = c.rng.randint(2, 40), c.rng.choice(c.scene["gain"])
    return _Step(f"{when}, {c.name} {verb} {n} more {c.var}.", f"{c.var} = {c.var} + {n}",
                 f"{c.name} {verb} {n} more, so {v} + {n} = {v + n} {c.var}.", v + n)


def _gain_boxes(c: _Ctx, v: int, when: str) -> _Step:
    k, m, verb, box = c.rng.randint(2, 7), c.rng.randint(3, 12), c.rng.choice(c.scene["gain"]), c.scene["box"]
    return _Step(f"{when}, {c.name} {verb} {k} {box} with {m} {c.var} in each.",
                 f"{c.var} = {c.var} + {k} * {m}",
                 f"{k} {box} of {m} hold {k} * {m} = {k * m} {c.var}, so {v} + {k * m} = {v + k * m}.",
                 v + k * m)


def _lose(c: _Ctx, v: int, when: str) -> _Step | None:
    if v < 4:
        return None
    n, verb = c.rng.randint(2, v - 1), c.rng.choice(c.scene["lose"])
    return _Step(f"{when}, {c.name} {verb} {n} of the {c.var}.", f"{c.var} = {c.var} - {n}",
                 f"{c.name} {verb} {n}, leaving {v} - {n} = {v - n} {c.var}.", v - n)


def _times(c: _Ctx, v: int, when: str) -> _Step | None:
    k = c.rng.choice([2, 3, 4])
    if v * k > MAX_COUNT:
        return None
    return _Step(f"{when}, the number of {c.var} that {c.name} has {TIMES[k]}.", f"{c.var} = {c.var} * {k}",
                 f"The count {TIMES[k]}: {v} * {k} = {v * k} {c.var}.", v * k)


def _fraction(c: _Ctx, v: int, when: str) -> _Step | None:
    (a, b), verb = c.rng.choice(list(FRACTIONS)), c.rng.choice(c.scene["lose"])
    if v % b or gcd(a, b) != 1:
        return None
    part = v * a // b
    return _Step(f"{when}, {c.name} {verb} {FRACTIONS[a, b]} of the {c.var}.",
                 f"{c.var} = {c.var} - {c.var} * {a} // {b}",
                 f"{FRACTIONS[a, b].capitalize()} of {v} is {v} * {a} / {b} = {part}, leaving {v} - {part} = {v - part}.",
                 v - part)


def _percent(c: _Ctx, v: int, when: str) -> _Step | None:
    p, verb = c.rng.choice([10, 20, 25, 30, 40, 50, 60, 75, 80]), c.rng.choice(c.scene["lose"])
    if v * p % 100:
        return None
    part = v * p // 100
    return _Step(f"{when}, {c.name} {verb} {p}% of the {c.var}.", f"{c.var} = {c.var} - {c.var} * {p} // 100",
                 f"{p}% of {v} is {v} * {p} / 100 = {part}, leaving {v} - {part} = {v - part}.", v - part)


def _share(c: _Ctx, v: int, when: str) -> _Step | None:
    k = c.rng.randint(2, 6)
    if v % k:
        return None
    return _Step(f"{when}, {c.name} shares the {c.var} equally among {k} people, {c.name} included.",
                 f"{c.var} = {c.var} // {k}", f"One of {k} equal shares is {v} / {k} = {v // k} {c.var}.", v // k)


def _gift(c: _Ctx, v: int, when: str) -> _Step | None:
    if v < 3 or not c.others or 2 * v > MAX_COUNT:
        return None
    n, other = c.rng.randint(1, v - 1), c.others.pop()
    var = f"{other.lower()}_{c.var}"
    return _Step(f"{when}, {other}, who has {n} fewer {c.var} than {c.name}, gives all of them to {c.name}.",
                 f"{var} = {c.var} - {n}\n{c.var} = {c.var} + {var}",
                 f"{other} has {v} - {n} = {v - n} {c.var}; adding them gives {v} + {v - n} = {2 * v - n}.",
                 2 * v - n)


def _count_question(c: _Ctx, v: int) -> tuple[str, tuple[str, str, str]]:
    question = c.rng.choice(["How many {i} does {n} have now?", "How many {i} does {n} have at the end?",
                             "How many {i} are left with {n} in the end?", "What is the number of {i} {n} ends up with?",
                             "Find the number of {i} that {n} has at the end."])
    return question.format(i=c.var, n=c.name), (str(v), f"print({c.var})", f"{c.name} ends with {v} {c.var}.")


def _money(c: _Ctx, v: int) -> tuple[str, tuple[str, str, str]]:
    cents = c.rng.randint(1, 20) * 25
    price = format_number(Fraction(cents, 100))
    total = format_number(Fraction(v * cents, 100))
    question = f"Finally, {c.name} sells each {c.scene['one']} for ${cents / 100:.2f}. What does {c.name} earn, in dollars?"
    return question, (total, f"money = {c.var} * {price}\nprint(money)",
                      f"Selling {v} {c.var} at ${price} each gives {v} * {price} = {total} dollars.")


def _program(steps: list[_Step], final: tuple[str, str, str]) -> str:
    lines = []
    for k, step in enumerate(steps, 1):
        lines += [f"# Step {k}: {step.sentence}", step.code]
    lines += [f"# Step {len(steps) + 1}: compute and print the answer.", final[1]]
    return "\n".join(lines) + "\n"


def _rationale(steps: list[_Step], final: tuple[str, str, str]) -> str:
    lines = [f"Step {k}: {step.reason}" for k, step in enumerate(steps, 1)]
    lines.append(f"Step {len(steps) + 1}: {final[2]} The answer is {final[0]}.")
    return "\n".join(lines)
