"""JSONL files of a run folder: atomic writes (temp file + rename) and tolerant reads.

    n = write_jsonl(run.path("sft", "rows.jsonl"), rows)    # all rows or none land on disk
    rows = read_jsonl(run.root / "trees" / "pairs.jsonl")    # [] when the file does not exist

Every stage writes its row files through `write_jsonl`, so a stage killed mid-write leaves the
previous file whole, never half of a new one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows atomically (temp file + rename); return how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def read_jsonl(path: str | Path) -> list[dict]:
    """Every row of a JSONL file, in order; [] when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
