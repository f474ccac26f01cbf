"""Solution programs for the logic puzzles: brute force over all candidates, print the one left.

    >>> print(program(puzzle))   # a runnable script; its stdout is the answer

Each program spells out its clues as the same Python expressions the generator checked, so
running it is an independent check that the puzzle has exactly one solution (it asserts so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .logic_tasks import Puzzle

_CANDIDATES = {
    "ordering": (
        "def candidates():\n"
        "    for order in permutations(people):\n"
        "        yield {\"pos\": {p: i for i, p in enumerate(order)}}\n"
    ),
    "knights": (
        "def candidates():\n"
        "    for values in product([True, False], repeat=len(people)):\n"
        "        yield {\"knight\": dict(zip(people, values))}\n"
    ),
    "ownership": (
        "def candidates():\n"
        "    for taken in permutations(things):\n"
        "        yield {\"has\": dict(zip(people, taken)), \"who_has\": dict(zip(taken, people))}\n"
    ),
    "ownership+homes": (
        "def candidates():\n"
        "    for taken in permutations(things):\n"
        "        for lived in permutations(homes):\n"
        "            yield {\"has\": dict(zip(people, taken)), \"who_has\": dict(zip(taken, people)),\n"
        "                   \"home\": dict(zip(people, lived)), \"who_lives\": dict(zip(lived, people))}\n"
    ),
}

_ANSWER = {
    "ordering": 'print(", ".join(sorted(people, key=lambda p: solution["pos"][p])))',
    "knights": 'print(", ".join(p for p in people if solution["knight"][p]))',
}


def program(puzzle: Puzzle) -> str:
    """The solution program of `puzzle` (Step comments, as UltraInteract's code actions have)."""
    kind = puzzle.kind + ("+homes" if "homes" in puzzle.extra else "")
    args = ", ".join(_VARIABLES[kind])
    clue_lines = "".join(f"    lambda {args}: {c.expr},  # {c.text}\n" for c in puzzle.clues)
    answer = _ANSWER.get(puzzle.kind) or f'print(solution["who_has"][{puzzle.extra.get("target")!r}])'
    return (
        f"{_head(puzzle)}\n# Step 1: every candidate assignment.\n{_CANDIDATES[kind]}\n"
        f"# Step 2: every clue as a condition on a candidate.\nclues = [\n{clue_lines}]\n\n"
        "# Step 3: keep the candidates that meet all the clues; exactly one is left.\n"
        "solutions = [c for c in candidates() if all(clue(**c) for clue in clues)]\n"
        "assert len(solutions) == 1, solutions\nsolution = solutions[0]\n"
        f"# Step 4: read the answer off the solution.\n{answer}\n"
    )


_VARIABLES = {
    "ordering": ["pos"],
    "knights": ["knight"],
    "ownership": ["has", "who_has"],
    "ownership+homes": ["has", "who_has", "home", "who_lives"],
}


def _head(puzzle: Puzzle) -> str:
    module = "product" if puzzle.kind == "knights" else "permutations"
    lines = [f"from itertools import {module}", "", f"people = {puzzle.people!r}"]
    if puzzle.kind == "ownership":
        lines.append(f"things = {puzzle.extra['things']!r}")
    if "homes" in puzzle.extra:
        lines.append(f"homes = {puzzle.extra['homes']!r}")
    return "\n".join(lines) + "\n"
