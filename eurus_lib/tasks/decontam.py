"""8-gram decontamination, the paper's way (App. A.3): drop any training problem that shares an
8-gram of whitespace tokens (lower-cased) with any held-out problem.

    >>> clean, removed = decontaminate(train, heldout)
    >>> shared_ngrams(train[0], heldout[0])
    set()

Only the problem text (`Task.prompt`) is compared: the UltraInteract instruction prefixes are
the same for every problem and would match everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import Task

N = 8


def ngrams(text: str, n: int = N) -> set[tuple[str, ...]]:
    """The n-grams of lower-cased whitespace tokens; a text shorter than n is one n-gram of itself."""
    tokens = text.lower().split()
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def ngram_index(tasks: Iterable[Task], n: int = N) -> dict[tuple[str, ...], str]:
    """Every n-gram of `tasks`, mapped to the id of one task that has it."""
    index: dict[tuple[str, ...], str] = {}
    for task in tasks:
        for gram in ngrams(task.prompt, n):
            index.setdefault(gram, task.id)
    return index


def first_shared(task: Task, index: dict, n: int = N) -> tuple[tuple[str, ...], str] | None:
    """An n-gram `task` shares with the indexed tasks, and that task's id; None when clean."""
    for gram in sorted(ngrams(task.prompt, n)):
        if gram in index:
            return gram, index[gram]
    return None


def shared_ngrams(a: Task, b: Task, n: int = N) -> set[tuple[str, ...]]:
    return ngrams(a.prompt, n) & ngrams(b.prompt, n)


def decontaminate(train: list[Task], heldout: list[Task], n: int = N) -> tuple[list[Task], list[Task]]:
    """(kept, removed): training problems without / with an n-gram in common with `heldout`."""
    index = ngram_index(heldout, n)
    kept, removed = [], []
    for task in train:
        (removed if first_shared(task, index, n) else kept).append(task)
    return kept, removed


def overlap_count(train: list[Task], heldout: list[Task], n: int = N) -> int:
    """How many training problems share an n-gram with the held-out ones (0 after decontamination)."""
    return len(decontaminate(train, heldout, n)[1])
