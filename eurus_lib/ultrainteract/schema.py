"""The exact row schemas of the released UltraInteract data, and a validator that names bad rows.

    >>> validate_pair_row(row, index=3)      # raises DataError on the first problem it finds
    >>> parse_pair_id("d1f0...c3c_5_3")
    ('d1f0...c3c', 5, 3)

Schemas from the dataset cards (eurus-paper.md section 1.5):
  openbmb/UltraInteract_sft:  task, dataset, instruction, response, id, parent_id
  openbmb/UltraInteract_pair: task, dataset, trajectory [{from, value}], chosen, rejected, id, parent_id
A pair's `id` is `<hash>_<depth of tree>_<current turn>`; its `trajectory` is the shared history,
starting and ending with a user turn and alternating user/assistant, so it holds `turn` user
turns (a turn-1 pair has the instruction alone); `chosen`/`rejected` are the next assistant turn.
"""

from __future__ import annotations

import re

from ..errors import DataError
from ..tasks.base import TASK_LABELS

SFT_FIELDS = ("task", "dataset", "instruction", "response", "id", "parent_id")
PAIR_FIELDS = ("task", "dataset", "trajectory", "chosen", "rejected", "id", "parent_id")
ROLES = ("user", "assistant")
_PAIR_ID = re.compile(r"^(?P<hash>.+)_(?P<depth>\d+)_(?P<turn>\d+)$")


def parse_pair_id(pair_id: str) -> tuple[str, int, int]:
    """(hash, depth, turn) of a pair id like 'abc_5_3'; DataError when it does not have that shape."""
    m = _PAIR_ID.match(pair_id or "")
    if not m:
        raise DataError(f"Pair id {pair_id!r} is not of the form <hash>_<depth>_<turn>.")
    return m["hash"], int(m["depth"]), int(m["turn"])


def validate_sft_row(row: dict, index: int) -> None:
    """Raise DataError naming the row (index and id) and the field if `row` breaks the SFT schema."""
    _check_fields(row, index, SFT_FIELDS, "UltraInteract_sft")
    for name in SFT_FIELDS:
        _check_text(row, index, name, "UltraInteract_sft")
    _check_task(row, index, "UltraInteract_sft")


def validate_pair_row(row: dict, index: int) -> None:
    """Raise DataError naming the row (index and id) and the field if `row` breaks the pair schema."""
    kind = "UltraInteract_pair"
    _check_fields(row, index, PAIR_FIELDS, kind)
    for name in ("task", "dataset", "chosen", "rejected", "id", "parent_id"):
        _check_text(row, index, name, kind)
    _check_task(row, index, kind)
    turns = _check_trajectory(row, index, kind)
    try:
        _, depth, turn = parse_pair_id(row["id"])
    except DataError as exc:
        raise _error(kind, row, index, "id", "is not of the form <hash>_<depth>_<turn>") from exc
    if not 1 <= turn <= depth:
        raise _error(kind, row, index, "id", f"has turn {turn} outside 1..depth {depth}")
    if turns != turn:
        raise _error(kind, row, index, "trajectory", f"has {turns} user turns but the id says turn {turn}")


def validate_rows(rows, kind: str) -> None:
    """Validate every row of an iterable of dicts (a list or a datasets.Dataset); kind is 'sft' or 'pair'."""
    check = {"sft": validate_sft_row, "pair": validate_pair_row}[kind]
    for index, row in enumerate(rows):
        check(row, index)


def _check_fields(row, index: int, fields: tuple, kind: str) -> None:
    if not isinstance(row, dict):
        raise DataError(f"{kind} row {index}: expected an object with fields {', '.join(fields)}, got {type(row).__name__}.")
    for name in fields:
        if name not in row:
            raise _error(kind, row, index, name, "is missing")
    extra = sorted(set(row) - set(fields))
    if extra:
        raise _error(kind, row, index, extra[0], f"is not part of the schema ({', '.join(fields)})")


def _check_text(row: dict, index: int, name: str, kind: str) -> None:
    value = row[name]
    if not isinstance(value, str):
        raise _error(kind, row, index, name, f"must be a string, not {type(value).__name__}")
    if not value.strip() and name != "dataset":
        raise _error(kind, row, index, name, "is empty")


def _check_task(row: dict, index: int, kind: str) -> None:
    if row["task"] not in TASK_LABELS:
        raise _error(kind, row, index, "task", f"is {row['task']!r}; expected one of {', '.join(TASK_LABELS)}")


def _check_trajectory(row: dict, index: int, kind: str) -> int:
    """Check the turns' shape and order; return how many user turns there are."""
    turns = row["trajectory"]
    if not isinstance(turns, list) or not turns:
        raise _error(kind, row, index, "trajectory", "must be a non-empty list of {from, value} turns")
    for k, turn in enumerate(turns):
        where = f"trajectory[{k}]"
        if not isinstance(turn, dict) or set(turn) != {"from", "value"}:
            raise _error(kind, row, index, where, "must have exactly the keys 'from' and 'value'")
        if not isinstance(turn["value"], str):
            raise _error(kind, row, index, f"{where}.value", "must be a string")
        expected = ROLES[k % 2]
        if turn["from"] != expected:
            raise _error(kind, row, index, f"{where}.from", f"is {turn['from']!r}; turns alternate user/assistant "
                                                            f"from a user turn, so it must be {expected!r}")
    if turns[-1]["from"] != "user":
        raise _error(kind, row, index, "trajectory", "must end with a user turn (chosen/rejected are the next turn)")
    return (len(turns) + 1) // 2


def _error(kind: str, row, index: int, field: str, problem: str) -> DataError:
    row_id = row.get("id") if isinstance(row, dict) else None
    return DataError(f"{kind} row {index} (id {row_id!r}): field '{field}' {problem}.")
