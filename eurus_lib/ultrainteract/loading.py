"""Load the released UltraInteract data from the Hugging Face Hub or a local file, validated.

    ds = load_ultrainteract_pair()                                   # openbmb/UltraInteract_pair (online)
    ds = load_ultrainteract_pair("data/fixtures/ultrainteract_pair_sample.jsonl")
    ds = load_ultrainteract_sft("ultrainteract_sft.json", limit=1000)

A source is a hub id or a path to a .json/.jsonl/.parquet file (the released files are
`ultrainteract_sft.json` and `0000_pair.parquet`). Every row is checked against the schema
(schema.py); the first bad row stops the load with its index, id and field named.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, KitError
from .schema import PAIR_FIELDS, SFT_FIELDS, validate_rows

SFT_HUB_ID = "openbmb/UltraInteract_sft"
PAIR_HUB_ID = "openbmb/UltraInteract_pair"
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def load_ultrainteract_sft(source: str | Path = SFT_HUB_ID, *, split: str = "train", limit: int | None = None,
                           validate: bool = True):
    """UltraInteract_sft rows (task, dataset, instruction, response, id, parent_id) as a datasets.Dataset."""
    return _load(source, split, limit, validate, "sft", SFT_FIELDS)


def load_ultrainteract_pair(source: str | Path = PAIR_HUB_ID, *, split: str = "train", limit: int | None = None,
                            validate: bool = True):
    """UltraInteract_pair rows (task, dataset, trajectory, chosen, rejected, id, parent_id) as a datasets.Dataset."""
    return _load(source, split, limit, validate, "pair", PAIR_FIELDS)


def _load(source, split: str, limit: int | None, validate: bool, kind: str, fields: tuple):
    ds = _read(source, split)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    missing = [f for f in fields if f not in ds.column_names]
    if missing:
        raise DataError(f"{source}: column '{missing[0]}' is missing; UltraInteract_{kind} rows have "
                        f"{', '.join(fields)}.")
    if validate:
        validate_rows(ds, kind)
    return ds


def _read(source, split: str):
    from datasets import load_dataset

    path = Path(source)
    if path.exists():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise DataError(f"{path}: expected a .json, .jsonl or .parquet file of UltraInteract rows.")
        return load_dataset(builder, data_files=str(path), split="train")
    if str(source).endswith(tuple(FILE_BUILDERS)):
        raise DataError(f"{source}: no such file.")
    try:
        return load_dataset(str(source), split=split)
    except (ConnectionError, OSError, ValueError) as exc:
        raise KitError(f"Could not load '{source}' from the Hugging Face Hub ({type(exc).__name__}); "
                       "check the connection or pass a local .json/.jsonl/.parquet file.") from exc
