"""Reference log-probs, scored once by TRL's own precompute and shared by the DPO, KTO and NCA runs.

    ref = shared_reference(start, pairs, batches, cfg.prefs, run.root / "prefs", with_kl=True,
                           seed=0, device="cpu", max_length=768)
    ref["<pair id>"]   # {"chosen", "rejected", "kl_desirable", "kl_undesirable", "kl_from"}: sums of log π_ref

DPO and NCA train on the same pairs, and KTO's desirable and undesirable rows are the same texts,
so one reference pass serves all three; left to itself every TRL trainer would run its own
`_precompute_ref_logps` (three passes), or a reference forward on every step without it. KTO also
needs the reference on mismatched (prompt, completion) rows for its KL reference point z0
(kto_trainer.py: the completions of a batch rotated by one). The batch order fixes those rows
(`prefs.data.kl_reference_rows`), so they are scored in the same pass, as rows whose "chosen" and
"rejected" are the two mismatched completions of one pair's KTO rows.

The pass is DPOTrainer's precompute itself, run by `SharedRefDPOTrainer` on the SFT start policy
with no training. Values land in `prefs/reference_logps.jsonl`, one row per pair, and a resumed
stage reads them back when the pairs and KL partners match. tests/test_prefs_reference.py checks
them against what DPOTrainer and KTOTrainer compute themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..dist import is_main_process
from ..jsonl import read_jsonl, write_jsonl
from ..training import trainer_args
from ..ultrainteract.convert import pair_to_dpo
from .data import Pair, kl_reference_rows
from .trainers import compact_lm_head, trainer_classes

REF_FILE = "reference_logps.jsonl"


def shared_reference(start, pairs: Sequence[Pair], batches: Sequence[Sequence[int]], settings, out_dir: Path, *,
                     with_kl: bool, seed: int, device: str, max_length: int) -> dict[str, dict]:
    """Reference log-probs of every pair (and of its KTO KL rows when with_kl), read back when already scored."""
    path = Path(out_dir) / REF_FILE
    ids = [pairs[i].id for batch in batches for i in batch]
    kl_rows = kl_reference_rows(pairs, batches) if with_kl else []
    cached = {r["id"]: r for r in read_jsonl(path)}
    if _covers(cached, ids, kl_rows):
        return cached
    examples = [pair_to_dpo(pairs[i].row) for batch in batches for i in batch]
    examples += [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in kl_rows]
    print(f"[prefs] scoring the reference (SFT) policy once on {len(ids)} pairs"
          + (f" and {len(kl_rows)} KTO KL rows" if kl_rows else "") + " ...", flush=True)
    chosen, rejected = trl_reference_logps(start, examples, settings, Path(out_dir), seed=seed, device=device,
                                           max_length=max_length)
    table = {pid: {"id": pid, "chosen": chosen[k], "rejected": rejected[k]} for k, pid in enumerate(ids)}
    for k, row in enumerate(kl_rows, start=len(ids)):
        table[row["id"]].update(kl_desirable=chosen[k], kl_undesirable=rejected[k], kl_from=row["kl_from"])
    if is_main_process():
        write_jsonl(path, table.values())
    return table


def _covers(cached: dict, ids: list[str], kl_rows: list[dict]) -> bool:
    if not cached or any(pid not in cached for pid in ids):
        return False
    return all(cached[r["id"]].get("kl_from") == r["kl_from"] for r in kl_rows)


def trl_reference_logps(start, examples: list[dict], settings, out_dir: Path, *, seed: int, device: str,
                        max_length: int) -> tuple[list[float], list[float]]:
    """(chosen, rejected) summed reference log-probs of DPO-style examples, by DPOTrainer's own precompute.

    In "merge" mode the model is the merged SFT policy with no adapters; in "ref_adapter" mode TRL
    scores with its "ref" copy of the SFT adapter; in "full" mode with the model before training.
    """
    from datasets import Dataset
    from trl import DPOConfig

    dpo_cls, _, _ = trainer_classes()
    args = trainer_args(DPOConfig, settings, out_dir / "reference", seed=seed, device=device, beta=settings.beta,
                        max_length=max_length, precompute_ref_log_probs=True,
                        precompute_ref_batch_size=settings.ref_batch_size, gradient_checkpointing=False,
                        train_sampling_strategy="sequential")
    with compact_lm_head():  # TRL scores the reference inside __init__
        trainer = dpo_cls(model=start.model, args=args, train_dataset=Dataset.from_list(examples),
                          processing_class=start.tok)
    data = trainer.train_dataset
    if len(data) != len(examples):  # TRL drops rows whose prompt fills max_length; ours never should
        raise RuntimeError(f"TRL kept {len(data)} of {len(examples)} reference rows; the pairs filter is off.")
    return list(data["ref_chosen_logps"]), list(data["ref_rejected_logps"])
