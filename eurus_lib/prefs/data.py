"""The pairs the preference stage trains on, in one batch order shared by DPO, KTO and NCA.

    rows = read_jsonl(run.root / "trees" / "pairs.jsonl")
    pairs, skipped = usable_pairs(rows, token_lengths(tok), max_len=cfg.model.max_seq_len)
    batches = batch_order([p.length for p in pairs], batch_size=4, seed=0)   # [[3, 0, 7, 1], ...]
    dpo_rows(pairs, batches, ref)    # DPOTrainer rows (DPO, NCA), reference log-probs attached
    kto_rows(pairs, batches, ref)    # KTOTrainer rows: each batch's desirable rows, then its undesirable rows

A pair is an UltraInteract_pair row: the multi-turn `trajectory` is the prompt (rendered with the
chat template by TRL), `chosen` / `rejected` the last assistant turn (eurus-paper.md section 6).

Bad pairs are skipped and counted, never silently truncated: an empty text (TRL would train on
a bare end-of-turn token), chosen == rejected (every loss is constant in it), or longer than the
limit (TRL's keep_start truncation would cut the completion, and DPO's chosen and rejected would
be cut at different points).

All three algorithms see the same pairs in the same batches in the same order, so their reward
curves differ by the loss alone. The order is fixed here, not by a sampler: shuffled with the
seed, then sorted by length inside mega-batches and cut into batches, whose order is shuffled
again (the idea of transformers' LengthGroupedSampler): a batch pads little, and the order is
the same on a resumed run. The trainers read it with `train_sampling_strategy="sequential"`,
which KTO requires anyway (its KL rows are built from neighbours in a fixed-order batch).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import KitError
from ..ultrainteract.convert import pair_to_dpo, trajectory_messages

SKIP_REASONS = {"empty": "an empty prompt, chosen or rejected text", "same": "chosen identical to rejected",
                "too_long": "prompt + response longer than the limit",
                "kto_leftover": "a last batch of one pair (KTO cannot pair its prompt with another completion)"}
MEGA_BATCHES = 50  # batches sorted together, as transformers' LengthGroupedSampler does


@dataclass(frozen=True)
class Pair:
    row: dict  # the UltraInteract_pair row
    length: int  # tokens of prompt + the longer of chosen / rejected

    @property
    def id(self) -> str:
        return self.row["id"]


def bad_pair_reason(row: dict) -> str | None:
    """Why a pair's text cannot be trained on ("empty", "same"), or None; length is checked apart."""
    texts = [row.get("chosen") or "", row.get("rejected") or ""]
    texts += [turn.get("value") or "" for turn in row.get("trajectory") or [{}]]
    if any(not t.strip() for t in texts):
        return "empty"
    if row["chosen"].strip() == row["rejected"].strip():
        return "same"
    return None


def usable_pairs(rows: Sequence[dict], length_fn: Callable[[dict], int], max_len: int,
                 max_pairs: int = 0) -> tuple[list[Pair], dict[str, int]]:
    """The pairs to train on (at most max_pairs, 0: all) and how many were skipped, by reason."""
    kept, skipped = [], {}
    for row in rows:
        reason, length = bad_pair_reason(row), None
        if reason is None:  # only text that is not already out gets tokenized
            length = length_fn(row)
            reason = "too_long" if length > max_len else None
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
        else:
            kept.append(Pair(row, length))
    if not kept:
        raise KitError(f"No usable preference pairs among {len(rows)} rows of trees/pairs.jsonl (skipped: "
                       f"{describe_skipped(skipped) or 'none'}). Grow trees with more pairs, or raise "
                       "model.max_seq_len if they are too long.")
    return (kept[:max_pairs] if max_pairs else kept), skipped


def describe_skipped(skipped: dict[str, int]) -> str:
    """'3 with chosen identical to rejected, 1 with ...' for the summary and the report."""
    return ", ".join(f"{n} with {SKIP_REASONS.get(k, k)}" for k, n in skipped.items() if n)


def token_lengths(tok) -> Callable[[dict], int]:
    """Tokens of the rendered prompt + the longer response, as TRL tokenizes a conversational pair."""
    def length(row: dict) -> int:
        example = pair_to_dpo(row)
        return max(len(tok.apply_chat_template(example["prompt"] + example[side], tokenize=True,
                                               return_dict=True)["input_ids"]) for side in ("chosen", "rejected"))
    return length


def batch_order(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Indices cut into length-grouped batches, in a seeded order; a short last batch stays last.

    The trainers cut their data into consecutive chunks of batch_size rows, so only the last batch
    may be short, or every later batch would straddle two of ours.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = MEGA_BATCHES * batch_size
    grouped = [i for k in range(0, len(order), mega)
               for i in sorted(order[k:k + mega], key=lambda i: -lengths[i])]
    batches = [grouped[k:k + batch_size] for k in range(0, len(grouped), batch_size)]
    full = [b for b in batches if len(b) == batch_size]
    rng.shuffle(full)
    return full + [b for b in batches if len(b) < batch_size]


def drop_kto_leftover(batches: list[list[int]], skipped: dict[str, int]) -> list[list[int]]:
    """Drop a last batch of a single pair: KTO's KL row would pair its prompt with its own answer."""
    if batches and len(batches[-1]) == 1 and len(batches) > 1:
        skipped["kto_leftover"] = skipped.get("kto_leftover", 0) + 1
        return batches[:-1]
    if batches and len(batches[-1]) == 1:
        raise KitError("KTO needs at least 2 pairs per batch (its KL term pairs each prompt with another pair's "
                       "completion), but there is only 1 usable pair; set prefs.algorithms=dpo,nca or add pairs.")
    return batches


def kto_layout(batch: Sequence[int]) -> list[tuple[int, bool]]:
    """(pair index, desirable?) per KTO row of one batch: the desirable rows first, then the undesirable ones.

    Every batch holds both sides of the same pairs (KTO gets as many completions per step as DPO),
    and TRL's KL rows, built by rotating the completions of a batch by one (kto_trainer.py,
    add_kl_completion_ids), then always pair a prompt with another pair's completion.
    """
    return [(i, True) for i in batch] + [(i, False) for i in batch]


def kl_sources(batch: Sequence[int]) -> list[tuple[int, bool]]:
    """For each KTO row of `kto_layout(batch)`, the (pair, desirable?) whose completion its KL row uses.

    TRL: KL_completion[j] = completion[j - 1] within the batch, and KL_completion[0] = completion[-1].
    """
    rows = kto_layout(batch)
    return [rows[j - 1] for j in range(len(rows))]


def kl_reference_rows(pairs: Sequence[Pair], batches: Sequence[Sequence[int]]) -> list[dict]:
    """Per pair, its prompt with the two mismatched completions its KTO rows' KL terms score.

    Shaped as DPO rows (chosen = the desirable row's KL completion, rejected = the undesirable
    row's), so one reference pass scores training pairs and KL rows alike.
    """
    out = []
    for batch in batches:
        sources = kl_sources(batch)
        half = len(batch)
        for k, i in enumerate(batch):
            out.append({"id": pairs[i].id, "prompt": trajectory_messages(pairs[i].row["trajectory"]),
                        "chosen": _completion(pairs, sources[k]), "rejected": _completion(pairs, sources[half + k]),
                        "kl_from": [_name(pairs, sources[k]), _name(pairs, sources[half + k])]})
    return out


def _completion(pairs: Sequence[Pair], source: tuple[int, bool]) -> list[dict]:
    i, desirable = source
    return [{"role": "assistant", "content": pairs[i].row["chosen" if desirable else "rejected"]}]


def _name(pairs: Sequence[Pair], source: tuple[int, bool]) -> str:
    i, desirable = source
    return f"{pairs[i].id}/{'chosen' if desirable else 'rejected'}"


def dpo_rows(pairs: Sequence[Pair], batches: Sequence[Sequence[int]], ref: dict[str, dict]) -> list[dict]:
    """DPOTrainer rows in batch order, each with its pair's shared reference log-probs."""
    return [{**pair_to_dpo(pairs[i].row), "ref_chosen_logps": ref[pairs[i].id]["chosen"],
             "ref_rejected_logps": ref[pairs[i].id]["rejected"]} for batch in batches for i in batch]


def kto_rows(pairs: Sequence[Pair], batches: Sequence[Sequence[int]], ref: dict[str, dict]) -> list[dict]:
    """KTOTrainer rows in `kto_layout` order, with reference log-probs of the row and of its KL row."""
    out = []
    for batch in batches:
        for i, desirable in kto_layout(batch):
            side, r = ("chosen", "kl_desirable") if desirable else ("rejected", "kl_undesirable")
            out.append({"prompt": trajectory_messages(pairs[i].row["trajectory"]),
                        "completion": [{"role": "assistant", "content": pairs[i].row[side]}], "label": desirable,
                        "ref_logps": ref[pairs[i].id][side], "ref_KL_logps": ref[pairs[i].id][r]})
    return out
