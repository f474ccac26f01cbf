"""Append-only, resumable storage of finished trees, and atomic JSONL writes for the derived rows.

    store = TreeStore(run.path("trees", "trees.jsonl"))
    done = store.load()                          # finished trees from earlier, interrupted runs
    todo = [t for t in tasks if t.id not in store.done_ids()]
    grow_trees(todo, ..., on_tree=store.append)  # each finished tree is one fsync'ed line

trees.jsonl is the record; sft.jsonl, pairs.jsonl and rm_pairs.jsonl are views rebuilt from it
at the end of every run (written to a temporary file, then renamed). So killing the stage at any
moment loses at most the trees still growing, and a rerun neither loses nor duplicates a tree:
a line cut off mid-write is dropped on load, and a tree seen twice is kept once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from .tree import Tree


class TreeStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> list[Tree]:
        """Every complete tree in the file, first copy of each instruction only; repairs a torn tail."""
        if not self.path.is_file():
            return []
        trees, seen = [], set()
        raw = self.path.read_bytes()
        good = raw[: raw.rfind(b"\n") + 1]
        if len(good) != len(raw):  # the last write was cut off: drop the partial line for good
            with self.path.open("r+b") as fh:
                fh.truncate(len(good))
        for line in good.decode().splitlines():
            if not line.strip():
                continue
            tree = Tree.from_dict(json.loads(line))
            if tree.parent_id not in seen:
                seen.add(tree.parent_id)
                trees.append(tree)
        return trees

    def done_ids(self) -> set[str]:
        return {t.parent_id for t in self.load()}

    def append(self, tree: Tree) -> None:
        """Write one finished tree as one line and make it durable before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(tree.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


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
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
