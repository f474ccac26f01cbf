"""Append-only, resumable storage of finished trees.

    store = TreeStore(run.path("trees", "trees.jsonl"))
    done = store.load()                          # finished trees from earlier, interrupted runs
    todo = [t for t in tasks if t.id not in store.done_ids()]
    grow_trees(todo, ..., on_tree=store.append)  # each finished tree is one fsync'ed line

trees.jsonl is the record; sft.jsonl, pairs.jsonl and rm_pairs.jsonl are views rebuilt from it
at the end of every run (atomically, by `eurus_lib.jsonl.write_jsonl`). So killing the stage at
any moment loses at most the trees still growing, and a rerun neither loses nor duplicates a tree:
a line cut off mid-write is ignored on load, and a tree seen twice is kept once. Loading never
writes (issue 9); the next `append` cuts the torn line off before adding its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .tree import Tree


class TreeStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> list[Tree]:
        """Every complete tree in the file, first copy of each instruction only; a torn last line is skipped."""
        if not self.path.is_file():
            return []
        raw = self.path.read_bytes()
        trees, seen = [], set()
        for line in raw[: raw.rfind(b"\n") + 1].decode().splitlines():
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
        with self.path.open("a+b") as fh:  # writes go to the end; reads and truncate work anywhere
            _drop_torn_tail(fh)
            fh.write((json.dumps(tree.to_dict(), ensure_ascii=False) + "\n").encode())
            fh.flush()
            os.fsync(fh.fileno())


def _drop_torn_tail(fh) -> None:
    """Cut off a last line that an interrupted write left without its newline."""
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return
    fh.seek(end - 1)
    if fh.read(1) == b"\n":
        return
    fh.seek(0)
    fh.truncate(fh.read().rfind(b"\n") + 1)
