"""The released UltraInteract data: loaders, schema checks, TRL converters and the RM augmentation.

    from eurus_lib.ultrainteract import load_ultrainteract_pair, to_dpo_dataset, to_kto_dataset

    pairs = load_ultrainteract_pair("data/fixtures/ultrainteract_pair_sample.jsonl")  # or the hub id
    dpo = to_dpo_dataset(pairs)          # prompt / chosen / rejected messages (DPO, NCA)
    kto = to_kto_dataset(pairs)          # prompt / completion / label (KTO)

Public API:
- `load_ultrainteract_sft(source, *, split, limit, validate)`, `load_ultrainteract_pair(...)`
  -> datasets.Dataset; source is a hub id (default: openbmb/UltraInteract_sft / _pair) or a
  local .json/.jsonl/.parquet file.
- `validate_sft_row(row, index)`, `validate_pair_row(row, index)`, `validate_rows(rows, kind)`:
  DataError naming the row index, its id and the field.
- `parse_pair_id(id) -> (hash, depth, turn)`.
- `pair_to_dpo(row)`, `pair_to_kto(row)`, `sft_to_messages(row)`, `sft_to_prompt_completion(row)`
  and the dataset versions `to_dpo_dataset`, `to_kto_dataset`, `to_sft_dataset`.
- `rm_augmented_pairs(rows, *, max_grid, max_pairs, max_uses, seed)`: the cross-turn RM pairs of
  paper App. B, pure on released-format rows; `group_trees(rows)` (parent_id -> rows) and
  `action_slots(group)` (the actions it pairs, one slot per turn and role) show its reading.
"""

from .augment import action_slots, group_trees, rm_augmented_pairs
from .convert import (
    pair_to_dpo,
    pair_to_kto,
    sft_to_messages,
    sft_to_prompt_completion,
    to_dpo_dataset,
    to_kto_dataset,
    to_sft_dataset,
    trajectory_messages,
)
from .loading import PAIR_HUB_ID, SFT_HUB_ID, load_ultrainteract_pair, load_ultrainteract_sft
from .schema import (
    PAIR_FIELDS,
    SFT_FIELDS,
    parse_pair_id,
    validate_pair_row,
    validate_rows,
    validate_sft_row,
)

__all__ = [
    "action_slots",
    "PAIR_FIELDS",
    "PAIR_HUB_ID",
    "SFT_FIELDS",
    "SFT_HUB_ID",
    "group_trees",
    "load_ultrainteract_pair",
    "load_ultrainteract_sft",
    "pair_to_dpo",
    "pair_to_kto",
    "parse_pair_id",
    "rm_augmented_pairs",
    "sft_to_messages",
    "sft_to_prompt_completion",
    "to_dpo_dataset",
    "to_kto_dataset",
    "to_sft_dataset",
    "trajectory_messages",
    "validate_pair_row",
    "validate_rows",
    "validate_sft_row",
]
