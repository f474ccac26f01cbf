"""Reference log-probs, scored once and shared by the DPO, KTO and NCA runs.

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

In "merge" mode (the tiny preset), where the loaded model is the SFT policy itself, the pass runs
each distinct prompt once and continues all its completions from the prompt's KV cache
(`prefs.prefix`, on DPOTrainer's own token ids): a pair's two answers and its two KL rows share one
prompt, which is most of their tokens. Given a `trunk.TrunkCache`, the same pass stores every
sequence's frozen-trunk states for the training runs. In the other modes ("ref_adapter" for QLoRA,
"full") the reference is not the plain model, and the pass is DPOTrainer's precompute itself, run
by `SharedRefDPOTrainer` with no training. Values land in `prefs/reference_logps.jsonl`, one row
per pair, and a resumed stage reads them back when the pairs and KL partners match.
tests/test_prefs_reference.py checks both passes against what DPOTrainer and KTOTrainer compute
themselves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..dist import is_main_process
from ..jsonl import read_jsonl, write_jsonl
from ..policies import SECONDS_FILE, record_seconds
from ..training import compact_lm_head, trainer_args
from ..trunk import installed_where_shared
from ..ultrainteract.convert import pair_to_dpo
from .data import Pair, kl_reference_rows
from .prefix import plain_head
from .trainers import trainer_classes

REF_FILE = "reference_logps.jsonl"
PLAIN_MODES = ("merge", "base")  # start modes whose model, as loaded, is the reference (course demos: "base")


def shared_reference(start, pairs: Sequence[Pair], batches: Sequence[Sequence[int]], settings, out_dir: Path, *,
                     with_kl: bool, seed: int, device: str, max_length: int, trunk=None) -> dict[str, dict]:
    """Reference log-probs of every pair (and of its KTO KL rows when with_kl), read back when already scored.

    With `trunk` (a `trunk.TrunkCache`) the pass also leaves every sequence's frozen-trunk states in
    it, which the DPO, KTO and NCA runs then read instead of recomputing them.
    """
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
    plain = start.mode in PLAIN_MODES and plain_head(start.model)
    score = prefix_reference_logps if plain else trl_reference_logps
    began = time.perf_counter()
    chosen, rejected = score(start, examples, settings, Path(out_dir), seed=seed, device=device,
                             max_length=max_length, trunk=trunk)
    if is_main_process():
        record_seconds(Path(out_dir) / SECONDS_FILE, "reference", time.perf_counter() - began)
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


def prefix_reference_logps(start, examples: list[dict], settings, out_dir: Path, *, seed: int, device: str,
                           max_length: int, trunk=None) -> tuple[list[float], list[float]]:
    """(chosen, rejected) summed reference log-probs, each distinct prompt run once (`prefs.prefix`).

    For "merge" mode, where the model as loaded is the reference. The token ids are TRL's own
    (DPOTrainer tokenizes the examples, nothing is scored), truncated to max_length as its collator
    truncates them, so the sums cover exactly the tokens DPOTrainer and KTOTrainer would score.
    """
    from .prefix import completion_logps

    dpo_cls, _, _ = trainer_classes()

    class TokenizeOnly(dpo_cls):  # precompute on (so TRL keeps no reference copy), its scoring skipped
        def _precompute_ref_logps(self, dataset, name, batch_size):
            return dataset

    data = _trl_dataset(TokenizeOnly, start, examples, settings, out_dir, seed=seed, device=device,
                        max_length=max_length)
    prompts: dict[tuple, int] = {}
    completions: list[list[list[int]]] = []
    where = []  # (prompt index, chosen's index, rejected's index) per example
    for row in data:
        prompt = list(row["prompt_ids"])
        i = prompts.setdefault(tuple(prompt), len(prompts))
        if i == len(completions):
            completions.append([])
        room = max_length - len(prompt)
        completions[i] += [list(row["chosen_ids"])[:room], list(row["rejected_ids"])[:room]]
        where.append((i, len(completions[i]) - 2, len(completions[i]) - 1))
    logps = completion_logps(start.model, [list(p) for p in prompts], completions, pad_id=start.tok.pad_token_id,
                             batch_size=settings.ref_batch_size, trunk=trunk, progress="reference log-probs")
    return [logps[i][c] for i, c, _ in where], [logps[i][r] for i, _, r in where]


def trl_reference_logps(start, examples: list[dict], settings, out_dir: Path, *, seed: int, device: str,
                        max_length: int, trunk=None) -> tuple[list[float], list[float]]:
    """(chosen, rejected) summed reference log-probs of DPO-style examples, by DPOTrainer's own precompute.

    In "merge" mode the model is the merged SFT policy with no adapters; in "ref_adapter" mode TRL
    scores with its "ref" copy of the SFT adapter; in "full" mode with the model before training.
    """
    dpo_cls, _, _ = trainer_classes()
    with compact_lm_head(), installed_where_shared(trunk, start.model):  # TRL scores the reference inside __init__
        data = _trl_dataset(dpo_cls, start, examples, settings, out_dir, seed=seed, device=device,
                            max_length=max_length)
    return list(data["ref_chosen_logps"]), list(data["ref_rejected_logps"])


def _trl_dataset(trainer_cls, start, examples: list[dict], settings, out_dir: Path, *, seed: int, device: str,
                 max_length: int):
    """The training dataset a DPOTrainer (class `trainer_cls`, precompute on) builds from the examples."""
    from datasets import Dataset
    from trl import DPOConfig

    args = trainer_args(DPOConfig, settings, out_dir / "reference", seed=seed, device=device, beta=settings.beta,
                        max_length=max_length, precompute_ref_log_probs=True,
                        precompute_ref_batch_size=settings.ref_batch_size, gradient_checkpointing=False,
                        train_sampling_strategy="sequential")
    trainer = trainer_cls(model=start.model, args=args, train_dataset=Dataset.from_list(examples),
                          processing_class=start.tok)
    data = trainer.train_dataset
    if len(data) != len(examples):  # TRL drops rows whose prompt fills max_length; ours never should
        raise RuntimeError(f"TRL kept {len(data)} of {len(examples)} reference rows; the pairs filter is off.")
    return data

