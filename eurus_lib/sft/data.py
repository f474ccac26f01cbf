"""The rows SFT trains on: the correct actions of the trees (or the released UltraInteract_sft), plus
an optional general-chat mix, as conversational prompt/completion examples for TRL.

    rows = sft_rows(run, cfg.sft)                  # distinct (instruction, response) rows
    examples = to_examples(rows) + general_mix(cfg.sft)

The paper trains on every correct action with the interaction history dropped (section 3), and
mixes in UltraChat, ShareGPT and OpenOrca for general chat ability (7B: 32K + 30K + 50K rows).
Offline, `sft.general_mix=local` uses the small mix shipped in data/chat/ and says so; `hub`
samples the paper's three sources through `datasets`.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..errors import ConfigError, KitError
from ..jsonl import read_jsonl

LOCAL_MIX = Path(__file__).resolve().parents[2] / "data" / "chat" / "general_mix.jsonl"
# The paper's general-chat sources for Eurus-7B-SFT (section 3): hub id, config, rows used at 7B.
HUB_MIX = (("stingning/ultrachat", None, 32_000), ("openchat/openchat_sharegpt4_dataset", None, 30_000),
           ("Open-Orca/OpenOrca", None, 50_000))


def sft_rows(run, settings) -> list[dict]:
    """Distinct SFT rows from `sft.data`: this run's trees/sft.jsonl, or a hub id / file of UltraInteract_sft."""
    from ..trees.records import distinct_sft_rows

    if settings.data == "trees":
        rows = read_jsonl(run.root / "trees" / "sft.jsonl")
    else:
        from ..ultrainteract import load_ultrainteract_sft

        rows = list(load_ultrainteract_sft(settings.data, limit=settings.max_rows or None))
    rows = distinct_sft_rows(rows)
    if settings.families:
        rows = [r for r in rows if _family(r["task"]) in settings.families]
    if settings.max_rows:
        rows = rows[: settings.max_rows]
    if not rows:
        raise KitError(f"No SFT rows to train on from sft.data={settings.data} (families: {settings.families}); "
                       "check that the trees stage wrote trees/sft.jsonl.")
    return rows


def _family(label: str) -> str:
    return {"Coding": "code", "Logic": "logic"}.get(label, "math")


def to_examples(rows: list[dict]) -> list[dict]:
    """UltraInteract_sft rows -> conversational prompt/completion examples (loss on the completion)."""
    from ..ultrainteract.convert import sft_to_prompt_completion

    return [sft_to_prompt_completion(r) for r in rows]


def general_mix(settings, seed: int = 0) -> list[dict]:
    """`sft.general_rows` general-chat examples from `sft.general_mix` (none / local / hub)."""
    if settings.general_mix == "none" or settings.general_rows == 0:
        return []
    if settings.general_mix == "local":
        rows = read_jsonl(LOCAL_MIX)
        print(f"[sft] offline general-chat mix: {min(len(rows), settings.general_rows)} rows from {LOCAL_MIX.name} "
              "(the paper mixes UltraChat, ShareGPT and OpenOrca; use sft.general_mix=hub online)")
    elif settings.general_mix == "hub":
        rows = _hub_mix(settings.general_rows, seed)
    else:
        raise ConfigError(f"sft.general_mix={settings.general_mix!r}; choose none, local or hub.")
    rng = random.Random(seed)
    rng.shuffle(rows)
    return [_chat_example(r) for r in rows[: settings.general_rows]]


def _chat_example(row: dict) -> dict:
    """A {"messages": [...]} chat -> prompt (all turns but the last) / completion (the last assistant turn)."""
    messages = row["messages"]
    if not messages or messages[-1]["role"] != "assistant":
        raise KitError("A general-chat row must end with an assistant turn.")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def _hub_mix(total: int, seed: int) -> list[dict]:
    """Sample the paper's three general-chat sources in its 32:30:50 proportion (needs the network)."""
    from datasets import load_dataset

    weight = sum(n for _, _, n in HUB_MIX)
    rows = []
    for hub_id, config, n in HUB_MIX:
        k = max(1, round(total * n / weight))
        try:
            ds = load_dataset(hub_id, config, split="train", streaming=True).shuffle(seed=seed).take(k)
        except (ConnectionError, OSError, ValueError) as exc:
            raise KitError(f"Could not load '{hub_id}' for the general-chat mix ({type(exc).__name__}); "
                           "use sft.general_mix=local offline.") from exc
        rows += [{"messages": _to_messages(r)} for r in ds]
    return rows


def _to_messages(row: dict) -> list[dict]:
    """UltraChat / ShareGPT / OpenOrca rows -> role/content messages."""
    if "data" in row:  # UltraChat: alternating turns, user first
        return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(row["data"])]
    if "items" in row or "conversations" in row:  # ShareGPT
        turns = row.get("items") or row["conversations"]
        return [{"role": "user" if t["from"] in ("human", "user") else "assistant", "content": t["value"]}
                for t in turns if t["from"] != "system"]
    return [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["response"]}]
