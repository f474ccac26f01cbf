"""Logic puzzles with a unique, machine-checked answer: orderings, knights and knaves, who-has-what.

    >>> task = logic_task(random.Random(0), difficulty=3)
    >>> print(task.prompt)
    On Lumen you meet Sara, Arjun and Luca; knights never lie, knaves always lie. Luca says: ...

Every puzzle is generated backwards from a hidden solution: true clues are added until a
brute-force solver over all candidates (orders, knight/knave assignments, matchings) finds
exactly one, then clues that are not needed for uniqueness are dropped. Each clue is a
sentence plus a Python expression over the candidate, so the solver here, the solution
program shipped with the task and the counting rationale all check the same conditions.
Difficulty sets the number of people (and, for who-has-what, a second category at 4-5).
UltraInteract's Logic rows (ReClor, HotpotQA, StrategyQA; paper Table 6) are not puzzles;
these play their part: problems with one checkable answer that take several steps.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import permutations, product

from .base import Task
from .logic_programs import program
from .words import join_names, names, pool_half, task_id, words

ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh"]
COUNTS = ["no", "one", "two", "three", "four", "five", "six", "seven"]
PEOPLE = {
    "ordering": {1: 3, 2: 4, 3: 5, 4: 6, 5: 7},
    "knights": {1: 2, 2: 3, 3: 3, 4: 4, 5: 5},
    "ownership": {1: 3, 2: 3, 3: 4, 4: 4, 5: 5},
}
MAX_CLUES = 40


@dataclass
class Clue:
    text: str
    expr: str  # Python expression over the candidate's variables (pos / knight / has, home ...)


@dataclass
class Puzzle:
    kind: str
    people: list[str]
    intro: str
    question: str
    truth: dict  # the hidden solution, as the candidate variables
    answer: str
    answer_kind: str
    clues: list[Clue] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # item lists for who-has-what


def logic_task(rng: random.Random, difficulty: int, dataset: str = "tiny-logic", pool: str = "train") -> Task:
    """One logic puzzle of a random kind, with its solution program and rationale."""
    kind = rng.choice(list(PEOPLE))
    while True:
        people = names(rng, PEOPLE[kind][difficulty], pool)
        puzzle = MAKERS[kind](rng, people, difficulty, pool)
        if _settle_clues(rng, puzzle):
            break
    prompt = " ".join([puzzle.intro] + [c.text for c in puzzle.clues] + [puzzle.question])
    return Task(
        id=task_id("logic", prompt), family="logic", task="Logic", dataset=dataset, prompt=prompt,
        answer=puzzle.answer, solution=program(puzzle), rationale=_rationale(puzzle), difficulty=difficulty,
        meta={"answer_kind": puzzle.answer_kind, "puzzle": kind, "people": puzzle.people,
              "clues": len(puzzle.clues)},
    )


def candidates(puzzle: Puzzle) -> Iterator[dict]:
    """Every assignment the puzzle's clues choose among, as the variables clue expressions use."""
    people = puzzle.people
    if puzzle.kind == "ordering":
        for order in permutations(people):
            yield {"pos": {p: i for i, p in enumerate(order)}}
    elif puzzle.kind == "knights":
        for values in product([True, False], repeat=len(people)):
            yield {"knight": dict(zip(people, values))}
    else:
        homes = [None] if "homes" not in puzzle.extra else list(permutations(puzzle.extra["homes"]))
        for things in permutations(puzzle.extra["things"]):
            for where in homes:
                yield _ownership_env(people, things, where)


def compile_clue(clue: Clue, puzzle: Puzzle) -> Callable[..., bool]:
    """The clue as a function of the candidate's variables, positionally (see `_space`)."""
    args = ", ".join(next(candidates(puzzle)))
    return eval(f"lambda {args}: {clue.expr}")  # expressions are built by this module, never read from input


def solve(puzzle: Puzzle, clues: list[Clue] | None = None) -> list[dict]:
    """All candidates that satisfy every clue (the uniqueness proof is len(...) == 1)."""
    checks = [compile_clue(c, puzzle) for c in (puzzle.clues if clues is None else clues)]
    return [env for env in candidates(puzzle) if all(check(*env.values()) for check in checks)]


def _space(puzzle: Puzzle) -> list[tuple]:
    """Every candidate as a tuple of its variables, in the order compiled clues take them."""
    return [tuple(env.values()) for env in candidates(puzzle)]


def _settle_clues(rng: random.Random, puzzle: Puzzle) -> bool:
    """Add true clues until one candidate is left, then drop the ones uniqueness does not need."""
    space = _space(puzzle)
    survivors, clues, seen = space, [], set()
    while len(survivors) > 1:
        clue = PROPOSERS[puzzle.kind](rng, puzzle)
        if clue.expr in seen:
            continue
        seen.add(clue.expr)
        check = compile_clue(clue, puzzle)
        kept = [c for c in survivors if check(*c)]
        if len(kept) < len(survivors):
            clues.append(clue)
            survivors = kept
        if len(seen) > MAX_CLUES:
            return False
    puzzle.clues = _prune(rng, puzzle, space, clues)
    return True


def _prune(rng: random.Random, puzzle: Puzzle, space: list[tuple], clues: list[Clue]) -> list[Clue]:
    # One bit per clue a candidate violates; a clue subset is enough when one candidate violates none of it.
    masks = [0] * len(space)
    for bit, clue in enumerate(clues):
        check = compile_clue(clue, puzzle)
        for i, c in enumerate(space):
            if not check(*c):
                masks[i] |= 1 << bit
    keep = (1 << len(clues)) - 1
    for bit in rng.sample(range(len(clues)), len(clues)):
        trial = keep & ~(1 << bit)
        if sum(1 for m in masks if m & trial == 0) == 1:
            keep = trial
    kept = [c for bit, c in enumerate(clues) if keep >> bit & 1]
    rng.shuffle(kept)
    return kept


def _rationale(puzzle: Puzzle) -> str:
    space = _space(puzzle)
    what = {"ordering": "orders", "knights": "ways to assign knight or knave", "ownership": "assignments"}
    lines = [f"Step 1: There are {len(space)} possible {what[puzzle.kind]} to consider."]
    for k, clue in enumerate(puzzle.clues, 2):
        check = compile_clue(clue, puzzle)
        kept = [c for c in space if check(*c)]
        lines.append(f"Step {k}: {clue.text} This rules out {len(space) - len(kept)}, leaving {len(kept)}.")
        space = kept
    lines.append(f"Step {len(puzzle.clues) + 2}: {DESCRIBE[puzzle.kind](puzzle)} "
                 f"It satisfies every clue, so the answer is {puzzle.answer}.")
    return "\n".join(lines)


# --- orderings -------------------------------------------------------------------------------


def _make_ordering(rng: random.Random, people: list[str], difficulty: int, pool: str) -> Puzzle:
    scene = rng.choice(words("logic")["orderings"])
    order = people[:]
    rng.shuffle(order)
    shown = join_names(people)
    return Puzzle("ordering", people, scene["intro"].format(names=shown),
                  f"List {shown} {scene['order']}, separated by commas.",
                  {"pos": {p: i for i, p in enumerate(order)}}, ", ".join(order), "sequence", extra={"scene": scene})


def _propose_ordering(rng: random.Random, puzzle: Puzzle) -> Clue:
    pos, scene, n = puzzle.truth["pos"], puzzle.extra["scene"], len(puzzle.people)
    a, b = rng.sample(puzzle.people, 2)
    if pos[a] > pos[b]:
        a, b = b, a
    kind = rng.choices(["before", "after", "next", "place", "not_place", "gap"], [4, 3, 2, 1, 2, 2])[0]
    qa, qb = repr(a), repr(b)
    if kind == "before":
        return Clue(scene["before"].format(a=a, b=b), f"pos[{qa}] < pos[{qb}]")
    if kind == "after":
        return Clue(scene["after"].format(a=b, b=a), f"pos[{qb}] > pos[{qa}]")
    if kind == "next" and pos[b] == pos[a] + 1:
        return Clue(scene["next"].format(a=a, b=b), f"pos[{qb}] == pos[{qa}] + 1")
    if kind == "gap" and pos[b] - pos[a] > 1:
        k = pos[b] - pos[a] - 1
        others = "other" if k == 1 else "others"
        return Clue(f"{a} and {b} have exactly {COUNTS[k]} {others} between them.", f"abs(pos[{qa}] - pos[{qb}]) == {k + 1}")
    if kind == "not_place":
        k = rng.choice([i for i in range(n) if i != pos[a]])
        return Clue(scene["not_place"].format(a=a, nth=_nth(k, n)), f"pos[{qa}] != {k}")
    return Clue(scene["place"].format(a=a, nth=_nth(pos[a], n)), f"pos[{qa}] == {pos[a]}")


def _nth(k: int, n: int) -> str:
    return "last" if k == n - 1 and k >= 3 else ORDINALS[k]


def _describe_ordering(puzzle: Puzzle) -> str:
    return f"Only one order remains: {puzzle.answer}."


# --- knights and knaves ----------------------------------------------------------------------


def _make_knights(rng: random.Random, people: list[str], difficulty: int, pool: str) -> Puzzle:
    truth = {p: rng.random() < 0.5 for p in people}
    truth[rng.choice(people)] = True  # at least one knight, so the answer is never empty
    island = rng.choice(pool_half(words("logic")["islands"], pool))
    shown = join_names(people)
    knights = [p for p in people if truth[p]]
    return Puzzle("knights", people,
                  f"On {island} you meet {shown}; knights never lie, knaves always lie.",
                  f"{shown}: which are knights? List them, comma separated.",
                  {"knight": truth}, ", ".join(knights), "set")


def _propose_knights(rng: random.Random, puzzle: Puzzle) -> Clue:
    truth = puzzle.truth["knight"]
    speaker = rng.choice(puzzle.people)
    while True:
        text, expr = _statement(rng, speaker, puzzle.people)
        if eval(expr, {}, {"knight": truth}) == truth[speaker]:
            return Clue(f'{speaker} says: "{text}"', f"knight[{speaker!r}] == ({expr})")


def _statement(rng: random.Random, s: str, people: list[str]) -> tuple[str, str]:
    others = [p for p in people if p != s]
    k = rng.randint(1, len(people))
    x = rng.choice(others)
    y = rng.choice([p for p in others if p != x] or [x])
    forms = [
        (f"{x} is a knight.", f"knight[{x!r}]"),
        (f"{x} is a knave.", f"not knight[{x!r}]"),
        (f"{x} and I are the same kind.", f"knight[{x!r}] == knight[{s!r}]"),
        (f"{x} and I are different kinds.", f"knight[{x!r}] != knight[{s!r}]"),
        (f"Exactly {COUNTS[k]} of us are knights.", f"sum(knight.values()) == {k}"),
    ]
    if y != x:
        forms += [
            (f"{x} and {y} are both knights.", f"knight[{x!r}] and knight[{y!r}]"),
            (f"{x} and {y} are both knaves.", f"not knight[{x!r}] and not knight[{y!r}]"),
            (f"At least one of {x} and {y} is a knave.", f"not (knight[{x!r}] and knight[{y!r}])"),
            (f"Either {x} or {y} is a knight, but not both.", f"knight[{x!r}] != knight[{y!r}]"),
        ]
    return rng.choice(forms)


def _describe_knights(puzzle: Puzzle) -> str:
    return f"Only one assignment remains: the knights are {puzzle.answer}."


# --- who has what ----------------------------------------------------------------------------


def _make_ownership(rng: random.Random, people: list[str], difficulty: int, pool: str) -> Puzzle:
    data = words("logic")
    cat = rng.choice(data["categories"])
    things = rng.sample(pool_half(cat["items"], pool), len(people))
    extra = {"cat": cat, "things": things}
    intro = f"{join_names(people)} each {_plural(cat['verb'])} one of these {cat['noun']}: {join_names(things)}."
    truth_things = rng.sample(things, len(things))
    truth_homes = None
    if difficulty >= 4:
        extra["homes"] = rng.sample(pool_half(data["homes"]["items"], pool), len(people))
        truth_homes = rng.sample(extra["homes"], len(people))
        intro += f" They live in {join_names(extra['homes'])}, one each."
    target = rng.choice(things)
    truth = _ownership_env(people, truth_things, truth_homes)
    extra["target"] = target
    return Puzzle("ownership", people, intro, f"Who {cat['verb']} {target}?", truth,
                  truth["who_has"][target], "name", extra=extra)


def _ownership_env(people: list[str], things: tuple | list, homes: tuple | list | None) -> dict:
    env = {"has": dict(zip(people, things)), "who_has": dict(zip(things, people))}
    if homes is not None:
        env.update(home=dict(zip(people, homes)), who_lives=dict(zip(homes, people)))
    return env


def _propose_ownership(rng: random.Random, puzzle: Puzzle) -> Clue:
    cat, truth, extra = puzzle.extra["cat"], puzzle.truth, puzzle.extra
    a, x = rng.choice(puzzle.people), rng.choice(extra["things"])
    if x == extra["target"] and truth["has"][a] == x:
        x = _other(rng, puzzle, x)  # never name the answer outright
    owns = truth["has"][a] == x
    kinds = ["own", "own", "either"] + (["home", "link"] if "homes" in extra else [])
    kind = rng.choice(kinds)
    if kind == "either" and not owns:
        x, y = sorted([x, truth["has"][a]], key=lambda _: rng.random())
        return Clue(f"{a} {cat['verb']} either {x} or {y}.", f"has[{a!r}] in ({x!r}, {y!r})")
    if kind in ("home", "link"):
        return _home_clue(rng, puzzle, a if kind == "home" else None, x)
    verb = cat["verb"] if owns else cat["not_verb"]
    return Clue(f"{a} {verb} {x}.", f"has[{a!r}] {'==' if owns else '!='} {x!r}")


def _home_clue(rng: random.Random, puzzle: Puzzle, a: str | None, x: str) -> Clue:
    """Where a person lives ("home"), or where the holder of a thing lives ("link")."""
    homes, truth = words("logic")["homes"], puzzle.truth
    h = rng.choice(puzzle.extra["homes"])
    who = a if a is not None else truth["who_has"][x]
    at = truth["home"][who] == h
    verb, op = (homes["verb"], "==") if at else (homes["not_verb"], "!=")
    if a is not None:
        return Clue(f"{a} {verb} {h}.", f"home[{a!r}] {op} {h!r}")
    return Clue(f"{puzzle.extra['cat']['owner'].capitalize()} {x} {verb} {h}.", f"home[who_has[{x!r}]] {op} {h!r}")


def _other(rng: random.Random, puzzle: Puzzle, x: str) -> str:
    return rng.choice([t for t in puzzle.extra["things"] if t != x])


def _plural(verb: str) -> str:
    return {"has": "have"}.get(verb, verb[:-1] if verb.endswith("s") else verb)


def _describe_ownership(puzzle: Puzzle) -> str:
    has = puzzle.truth["has"]
    pairs = ", ".join(f"{p} {puzzle.extra['cat']['verb']} {has[p]}" for p in puzzle.people)
    return f"Only one assignment remains: {pairs}."


MAKERS = {"ordering": _make_ordering, "knights": _make_knights, "ownership": _make_ownership}
PROPOSERS = {"ordering": _propose_ordering, "knights": _propose_knights, "ownership": _propose_ownership}
DESCRIBE = {"ordering": _describe_ordering, "knights": _describe_knights, "ownership": _describe_ownership}
