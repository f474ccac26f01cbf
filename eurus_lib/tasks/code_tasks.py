"""Function-writing problems with HumanEval-style unit tests and a reference solution.

    >>> task = code_task(random.Random(0), difficulty=3)
    >>> print(task.prompt)
    Write a function `kept_topped_plenty(basket)`. `basket` maps fruit names to whole numbers. ...

A problem is a pipeline of filter/map stages and one aggregate over a list of integers, the
numbers 1..n, the words of a string or the entries of a dict (see code_ops.py); difficulty is
the number of stages plus one (difficulty 1: the aggregate alone). The tests are computed by
running the reference solution on random inputs and one empty input, as UltraInteract did for
TACO problems without tests ("outputs come from running the GT solution", paper App. A.1).
A pipeline whose tests cannot tell it from a near-constant function is thrown away.
"""

from __future__ import annotations

import builtins
import copy
import random
from dataclasses import dataclass

from .base import Task
from .code_ops import DOMAINS, Domain, Op
from .words import pool_half, task_id, words

N_TESTS = 8
MIN_DISTINCT_OUTPUTS = 3
MAX_REPR = 90
ARG_KEYS = {"ints": "list_args", "range": "range_args", "words": "text_args", "dict": "dict_args"}
RANGE_ARGS = ["n", "limit", "top", "upto", "last", "bound"]


@dataclass
class _Stage:
    kind: str  # "filter" | "map" | "agg"
    op: Op
    values: dict

    def phrase(self, **slots: str) -> str:
        """The op's English text with its parameters and `slots` ({src}) filled in."""
        return self.op.phrase.format(**self.values, **slots)

    def expr(self, **slots: str) -> str:
        return self.op.expr.format(**self.values, **slots)


def code_task(rng: random.Random, difficulty: int, dataset: str = "tiny-code", pool: str = "train") -> Task:
    """One function-writing problem with `difficulty - 1` filter/map stages before its aggregate."""
    while True:
        task = _attempt(rng, difficulty, dataset, pool)
        if task is not None:
            return task


def _attempt(rng: random.Random, difficulty: int, dataset: str, pool: str) -> Task | None:
    key = rng.choice(list(DOMAINS))
    domain = DOMAINS[key]
    stages = _stages(rng, domain, difficulty - 1)
    arg = rng.choice(pool_half(_arg_names(key), pool))
    names = rng.sample(pool_half(words("code")["vars"], pool), len(stages))  # one per list the body builds
    fname = _function_name(stages)
    solution = _solution(domain, stages, fname, arg, names)
    cases = _cases(rng, key, solution, fname, pool)
    if cases is None or not _every_stage_matters(domain, stages, fname, arg, names, cases):
        return None
    example = next(((i, o) for i, o in cases if o not in ([], 0, "", None, {})), cases[0])
    sentences = _sentences(domain, stages, arg, names)
    prompt = " ".join([f"Write a function `{fname}({arg})`.", domain.intro.format(arg=arg), *sentences,
                       f"Example: `{fname}({arg}={compact(example[0])})` returns `{compact(example[1])}`."])
    return Task(
        id=task_id("code", prompt), family="code", task="Coding", dataset=dataset, prompt=prompt,
        solution=solution, rationale="\n".join(f"Step {k}: {t}" for k, t in enumerate(sentences, 1)),
        tests=_check(cases), entry_point=fname, difficulty=difficulty,
        meta={"domain": key, "stages": len(stages) - 1},
    )


def _function_name(stages: list[_Stage]) -> str:
    name = "_".join([stages[-1].op.tag] + [s.op.tag for s in reversed(stages[:-1])][:2])
    return name + "_of" if hasattr(builtins, name) else name  # a function named `sorted` would call itself


def _arg_names(key: str) -> list[str]:
    return RANGE_ARGS if key == "range" else words("code")[ARG_KEYS[key]]


def _stages(rng: random.Random, domain: Domain, n: int) -> list[_Stage]:
    kinds = [rng.choice(["filter", "map"]) for _ in range(n)]
    if domain.maps_last:
        kinds.sort(key=lambda k: k == "map")
    pools = {"filter": rng.sample(domain.filters, len(domain.filters)), "map": rng.sample(domain.maps, len(domain.maps))}
    stages = [_pick(rng, kind, pools[kind].pop() if pools[kind] else rng.choice(getattr(domain, kind + "s")))
              for kind in kinds]
    aggs = [a for a in domain.aggs if n or not a.identity]
    return stages + [_pick(rng, "agg", rng.choice(aggs))]


def _pick(rng: random.Random, kind: str, op: Op) -> _Stage:
    return _Stage(kind, op, {name: rng.choice(list(values)) for name, values in op.params.items()})


def _solution(domain: Domain, stages: list[_Stage], fname: str, arg: str, names: list[str]) -> str:
    """The reference solution; `names[i]` is the list stage i builds (the source list first, if any)."""
    names, lines, src = list(names), [], arg
    if domain.source:
        src = names.pop(0)
        lines.append(domain.source.format(src=src, arg=arg))
    for stage in stages[:-1]:
        dst = names.pop(0)
        if stage.kind == "filter":
            item = "(key, value)" if domain.loop == "key, value" else domain.loop
            lines.append(f"{dst} = [{item} for {domain.loop} in {src} if {stage.expr()}]")
        else:
            lines.append(f"{dst} = [{stage.expr()} for {domain.loop} in {src}]")
        src = dst
    lines.append(f"return {stages[-1].expr(src=src)}")
    head = "import math\n\n\n" if "math." in lines[-1] else ""
    return head + f"def {fname}({arg}):\n" + "".join(f"    {line}\n" for line in lines)


def _sentences(domain: Domain, stages: list[_Stage], arg: str, names: list[str]) -> list[str]:
    """The statement's steps, naming the same lists as the solution."""
    names, out, src = list(names), [], arg
    if domain.source:
        src = names.pop(0)
        out.append(domain.source_phrase.format(src=src, arg=arg))
    for stage in stages[:-1]:
        dst = names.pop(0)
        if stage.kind == "filter":
            out.append(f"Let `{dst}` be the {domain.noun} in `{src}` {stage.phrase()}.")
        else:
            out.append(f"Let `{dst}` {stage.phrase(src=src)}.")
        src = dst
    out.append(f"Return {stages[-1].phrase(src=src)}.")
    return out


def _cases(rng: random.Random, key: str, solution: str, fname: str, pool: str) -> list[tuple] | None:
    namespace: dict = {}
    exec(solution, namespace)  # our own generated reference solution, not outside input
    inputs = [_random_input(rng, key, pool) for _ in range(N_TESTS - 1)] + [_empty_input(key)]
    cases = [(x, namespace[fname](copy.deepcopy(x))) for x in inputs]
    outputs = {repr(o) for _, o in cases}
    if len(outputs) < MIN_DISTINCT_OUTPUTS or any(len(repr(o)) > MAX_REPR for _, o in cases):
        return None
    return cases


def _every_stage_matters(domain: Domain, stages: list[_Stage], fname: str, arg: str, names: list[str],
                         cases: list[tuple]) -> bool:
    """False when dropping some filter/map stage changes no test output: that stage would be dead text."""
    offset = 1 if domain.source else 0
    for i in range(len(stages) - 1):
        namespace: dict = {}
        fewer = names[: offset + i] + names[offset + i + 1:]
        exec(_solution(domain, stages[:i] + stages[i + 1:], fname, arg, fewer), namespace)
        if all(namespace[fname](copy.deepcopy(x)) == y for x, y in cases):
            return False
    return True


def _random_input(rng: random.Random, key: str, pool: str):
    if key == "ints":
        return [rng.randint(-6, 25) for _ in range(rng.randint(4, 9))]
    if key == "range":
        return rng.randint(1, 24)
    if key == "words":
        return " ".join(rng.choice(pool_half(words("code")["words"], pool)) for _ in range(rng.randint(3, 8)))
    keys = rng.sample(pool_half(words("code")["keys"], pool), rng.randint(3, 7))
    return {k: rng.randint(0, 12) for k in keys}


def _empty_input(key: str):
    return {"ints": [], "range": 0, "words": "", "dict": {}}[key]


def compact(value) -> str:
    """repr without the spaces between items: `[1,2,3]`, `{'figs':3}` (strings keep theirs).

    A long run of numbers split at spaces would be an 8-gram that problems from both sides of
    the split can share; written as one token it carries the problem's other words with it."""
    if isinstance(value, list):
        return "[" + ",".join(compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{compact(k)}:{compact(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _check(cases: list[tuple]) -> str:
    lines = [f"    assert candidate({x!r}) == {y!r}" for x, y in cases]
    return "def check(candidate):\n" + "\n".join(lines) + "\n"
