"""JSONL files of a run folder: atomic writes (temp file + rename) and tolerant reads.

    n = write_jsonl(run.path("sft", "rows.jsonl"), rows)    # all rows or none land on disk
    rows = read_jsonl(run.root / "trees" / "pairs.jsonl")    # [] when the file does not exist
    for line_number, row in iter_jsonl(path): ...            # lazily, with line numbers for messages

Every stage writes its row files through `write_jsonl`, so a stage killed mid-write leaves the
previous file whole, never half of a new one. A line that is not JSON is a DataError naming the
file and the line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import DataError


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows atomically (temp file + rename); return how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the previous file stays as it was
        raise
    return n


def read_jsonl(path: str | Path) -> list[dict]:
    """Every row of a JSONL file, in order; [] when the file does not exist."""
    return [row for _, row in iter_jsonl(path)]


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) for each non-blank line, read as needed; nothing when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {number}: not a JSON row ({exc}).") from exc
