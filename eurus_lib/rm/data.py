"""The pairs the reward model trains on, each tagged with its source, tokenized as it will be scored.

    examples = ultrainteract_examples(run, cfg.rm, seed=0) + general_examples(cfg.rm, seed=0)
    rows, skipped = tokenize_pairs(examples, tok, max_length=768)   # skipped: {"identical": 3, ...}

Paper section 3 and table 2 (Eurus-RM-7B): the UltraInteract multi-turn pairs (`trees/pairs.jsonl`,
or the released openbmb/UltraInteract_pair), the cross-turn augmented single-turn pairs of App. B
(`trees/rm_pairs.jsonl`, or `rm_augmented_pairs` on the released rows), and general preference
pairs from UltraFeedback and UltraSafety (`general.py`). A row's `source` decides its loss:
UltraInteract rows (a correct answer against a wrong one) get L_BT + L_DR, general rows L_BT only
(`DR_SOURCES`, read by `eurus_lib.losses.reward_model_loss` through the trainer's `dr_rows` mask).

Each side is the whole conversation (prompt turns + the answer) rendered with the chat template
and tokenized exactly as `eurus_lib.eval.scoring.reward_scores` does, so the head is trained on the
very token it is later read from. Bad pairs are skipped and counted, never silently dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..errors import KitError
from ..jsonl import read_jsonl

DR_SOURCES = ("ultrainteract", "ultrainteract_augmented")  # L_BT + L_DR (paper section 3)
BT_SOURCES = ("ultrafeedback", "ultrasafety")  # L_BT only
SKIP_REASONS = ("empty", "identical", "duplicate", "too_long")


def ultrainteract_examples(run, settings, seed: int = 0) -> list[dict]:
    """Trajectory pairs, then (with `use_augmented_pairs`) the augmented ones, capped at `max_pairs`."""
    pairs, augmented = _pair_rows(run, settings, seed)
    examples = ([pair_example(r, "ultrainteract") for r in pairs]
                + [pair_example(r, "ultrainteract_augmented") for r in augmented])
    if not examples:
        raise KitError(f"No UltraInteract pairs to train the reward model on from rm.data={settings.data}; check "
                       "that the trees stage wrote trees/pairs.jsonl (every tree needs a correct and a wrong action).")
    return examples[: settings.max_pairs] if settings.max_pairs else examples


def _pair_rows(run, settings, seed: int) -> tuple[list[dict], list[dict]]:
    if settings.data == "trees":
        pairs = read_jsonl(run.root / "trees" / "pairs.jsonl")
        augmented = read_jsonl(run.root / "trees" / "rm_pairs.jsonl") if settings.use_augmented_pairs else []
        return pairs, augmented
    from ..ultrainteract import load_ultrainteract_pair, rm_augmented_pairs

    pairs = list(load_ultrainteract_pair(settings.data, limit=settings.max_pairs or None))
    return pairs, rm_augmented_pairs(pairs, seed=seed) if settings.use_augmented_pairs else []


def pair_example(row: dict, source: str) -> dict:
    """An UltraInteract_pair row -> {"id", "source", "prompt": messages, "chosen": text, "rejected": text}."""
    from ..ultrainteract import trajectory_messages

    return {"id": row["id"], "source": source, "prompt": trajectory_messages(row["trajectory"]),
            "chosen": row["chosen"], "rejected": row["rejected"]}


def reward_input_ids(tok, prompt: list[dict], response: str) -> list[int]:
    """Token ids of prompt + response as the reward model reads them (same as `reward_scores`)."""
    from ..eval.padding import token_ids
    from ..generation import render_prompt

    return token_ids(tok, render_prompt(tok, [*prompt, {"role": "assistant", "content": response}],
                                        add_generation_prompt=False))


def skip_reason(example: dict, seen: set) -> str | None:
    """Why a pair cannot train a reward model, or None: no answer, the same answer twice, or a repeat."""
    chosen, rejected = (example.get("chosen") or "").strip(), (example.get("rejected") or "").strip()
    if not chosen or not rejected or not example.get("prompt"):
        return "empty"
    if chosen == rejected:
        return "identical"  # no preference to learn, and L_DR would push one text both up and down
    key = (repr(example["prompt"]), chosen, rejected)
    if key in seen:
        return "duplicate"  # e.g. an augmented pair equal to a turn-1 pair when one text is correct at two turns
    seen.add(key)
    return None


def tokenize_pairs(examples: Iterable[dict], tok, max_length: int) -> tuple[list[dict], Counter]:
    """Rows {"chosen_ids", "rejected_ids", "dr", "source", "length"} for the trainer, and the skip counts."""
    rows, skipped, seen = [], Counter(), set()
    for ex in examples:
        if ex.get("source") not in DR_SOURCES + BT_SOURCES:
            raise KitError(f"Pair {ex.get('id')!r} has source {ex.get('source')!r}; reward-model pairs come from "
                           f"{', '.join(DR_SOURCES + BT_SOURCES)} (the source decides whether L_DR applies).")
        reason = skip_reason(ex, seen)
        if reason is None:
            chosen = reward_input_ids(tok, ex["prompt"], ex["chosen"])
            rejected = reward_input_ids(tok, ex["prompt"], ex["rejected"])
            reason = "too_long" if max(len(chosen), len(rejected)) > max_length else None
        if reason:
            skipped[reason] += 1
            continue
        rows.append({"chosen_ids": chosen, "rejected_ids": rejected, "dr": ex["source"] in DR_SOURCES,
                     "source": ex["source"], "length": max(len(chosen), len(rejected))})
    return rows, skipped
