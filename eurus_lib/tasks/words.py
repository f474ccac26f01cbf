"""Word lists shipped with the kit (`data/tasks/*.yaml`) and helpers every task family shares.

    >>> words("names")["names"][:3]
    ['Ada', 'Alan', 'Amara']
"""

from __future__ import annotations

import hashlib
import random
from functools import cache
from pathlib import Path

import yaml

from ..errors import DataError

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "tasks"


@cache
def words(name: str) -> dict:
    """The parsed `data/tasks/<name>.yaml` (cached; treat it as read-only)."""
    path = DATA_DIR / f"{name}.yaml"
    if not path.is_file():
        raise DataError(f"Word list {path} is missing; it ships with the kit under data/tasks/.")
    return yaml.safe_load(path.read_text())


POOLS = ("train", "heldout")


def names(rng: random.Random, k: int, pool: str = "train") -> list[str]:
    """k distinct given names from one half of the list: training and held-out problems use
    disjoint halves, so a phrase around a name never repeats across the split (see splits.py)."""
    return rng.sample(pool_half(words("names")["names"], pool), k)


def pool_half(items: list, pool: str) -> list:
    """The even-indexed items for "train", the odd-indexed ones for "heldout"."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, not {pool!r}")
    return items[POOLS.index(pool)::2]


def task_id(family: str, prompt: str) -> str:
    """Stable id of a problem: sha256 of family and prompt, as UltraInteract's parent_id hashes."""
    return hashlib.sha256(f"{family}\n{prompt}".encode()).hexdigest()


def join_names(items: list[str]) -> str:
    """'Ada', 'Ada and Bo', 'Ada, Bo and Cy'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
