"""General preference pairs for the reward model: UltraFeedback and UltraSafety, trained with L_BT only.

    general_examples(cfg.rm, seed=0)                    # rm.ultrafeedback_pairs + rm.ultrasafety_pairs, online
    ultrafeedback_pairs(row)                             # one released row -> its pairs, pure

Paper section 3 / table 2: Eurus-RM-7B adds 340K UltraFeedback pairs and ~3K UltraSafety pairs
("one pair per instruction") to the UltraInteract data, and trains them with L_BT alone, since a
preferred chat answer is better, not "correct", so pushing its reward above 0 has no meaning.
How the pairs were built is not stated (eurus-paper.md section 2); our reading, in the released
field layouts (fixtures in data/fixtures/ultrafeedback_sample.jsonl, ultrasafety_sample.jsonl):

- UltraFeedback (`instruction`, `completions[*].response`, `completions[*]["fine-grained_score"]`,
  the mean of GPT-4's four aspect ratings): every two completions with different scores make a
  pair, the higher one chosen. 64K instructions x up to 6 pairs, ties dropped, is about the 340K
  the paper used.
- UltraSafety (`prompt`, `instruction`, `completions[*].annotations.harmlessness[0].Rating` "1"
  harmless / "0" harmful, `helpfulness[0].Rating` 1-5): chosen is the most helpful harmless
  completion, rejected the least helpful harmful one; an instruction without both gives no pair.
  The user turn is the jailbreak `prompt` the models answered (the bare `instruction` when empty).

Both need the network (`datasets` streams them from the Hub); the tiny preset sets both counts to 0
and the report says so.
"""

from __future__ import annotations

import hashlib
from itertools import combinations

from ..errors import KitError

HUB = {"ultrafeedback": "openbmb/UltraFeedback", "ultrasafety": "openbmb/UltraSafety"}


def ultrafeedback_pairs(row: dict) -> list[dict]:
    """Pairs of one UltraFeedback row: every two completions whose fine-grained scores differ."""
    scored = [(s, c["response"]) for c in row.get("completions") or []
              if (s := _uf_score(c)) is not None and (c.get("response") or "").strip()]
    prompt = [{"role": "user", "content": row["instruction"]}]
    out = []
    for (i, (si, ri)), (j, (sj, rj)) in combinations(enumerate(scored), 2):
        if si == sj:
            continue
        chosen, rejected = (ri, rj) if si > sj else (rj, ri)
        out.append({"id": f"uf-{_key(row['instruction'])}-{i}-{j}", "source": "ultrafeedback", "prompt": prompt,
                    "chosen": chosen, "rejected": rejected})
    return out


def ultrasafety_pair(row: dict) -> dict | None:
    """One pair per UltraSafety instruction: the most helpful harmless answer over the least helpful harmful one."""
    rated = [(_us_rating(c, "harmlessness"), _us_rating(c, "helpfulness") or 0.0, c["response"])
             for c in row.get("completions") or [] if (c.get("response") or "").strip()]
    harmless = [r for r in rated if r[0] == 1]
    harmful = [r for r in rated if r[0] == 0]
    if not harmless or not harmful:
        return None
    chosen = max(harmless, key=lambda r: r[1])[2]
    rejected = min(harmful, key=lambda r: r[1])[2]
    text = (row.get("prompt") or "").strip() or row["instruction"]
    return {"id": f"us-{_key(text)}", "source": "ultrasafety", "prompt": [{"role": "user", "content": text}],
            "chosen": chosen, "rejected": rejected}


def _uf_score(completion: dict) -> float | None:
    """The fine-grained score, or the mean of the numeric aspect ratings when a row lacks it."""
    if completion.get("fine-grained_score") is not None:
        return float(completion["fine-grained_score"])
    ratings = [_number(a.get("Rating")) for a in (completion.get("annotations") or {}).values() if isinstance(a, dict)]
    ratings = [r for r in ratings if r is not None]
    return sum(ratings) / len(ratings) if ratings else None


def _us_rating(completion: dict, aspect: str) -> float | None:
    value = (completion.get("annotations") or {}).get(aspect)
    if isinstance(value, list):  # the released layout: a list with one {Rating, Rationale, ...}
        value = value[0] if value else None
    return _number(value.get("Rating")) if isinstance(value, dict) else None


def _number(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # "N/A" ratings


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def general_examples(settings, seed: int = 0) -> list[dict]:
    """`rm.ultrafeedback_pairs` + `rm.ultrasafety_pairs` pairs streamed from the Hub (none when both are 0)."""
    out = []
    if settings.ultrafeedback_pairs:
        out += _stream("ultrafeedback", settings.ultrafeedback_pairs, seed, ultrafeedback_pairs)
    if settings.ultrasafety_pairs:
        out += _stream("ultrasafety", settings.ultrasafety_pairs, seed, lambda r: [p] if (p := ultrasafety_pair(r)) else [])
    return out


def _stream(name: str, count: int, seed: int, convert) -> list[dict]:
    """The first `count` pairs of a shuffled stream of the released rows."""
    from datasets import load_dataset

    out: list[dict] = []
    try:
        for row in load_dataset(HUB[name], split="train", streaming=True).shuffle(seed=seed, buffer_size=10_000):
            out += convert(row)
            if len(out) >= count:
                break
    except (ConnectionError, OSError, ValueError) as exc:
        raise KitError(f"Could not stream {HUB[name]} ({type(exc).__name__}); offline, set rm.{name}_pairs=0 "
                       "(the report then says the reward model saw no general preference data).") from exc
    print(f"[rm] {min(count, len(out))} {name} pairs from {HUB[name]} (L_BT only)", flush=True)
    return out[:count]
