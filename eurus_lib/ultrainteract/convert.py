"""Turn UltraInteract rows into the datasets TRL's trainers take.

    to_dpo_dataset(pairs)   # prompt / chosen / rejected message lists: DPOTrainer (DPO, and NCA via loss_type)
    to_kto_dataset(pairs)   # prompt / completion / label: KTOTrainer, one desirable + one undesirable row per pair
    to_sft_dataset(sft)     # messages (+ instruction / response): SFTTrainer

A pair's `trajectory` becomes the prompt messages (user/assistant turns, ending with a user
turn) and `chosen` / `rejected` one assistant message each (eurus-paper.md section 6): a
turn-3 pair trains the model on its third action given the first two and their feedback.
How the paper split pairs for KTO is not stated; taking both sides of every pair is the
natural reading and gives the rows of TRL's `unpair_preference_dataset`, interleaved per pair
(so any prefix of the data is balanced) instead of in blocks.
"""

from __future__ import annotations

from collections.abc import Iterable


def trajectory_messages(trajectory: list[dict]) -> list[dict]:
    """[{from, value}, ...] -> [{role, content}, ...]."""
    return [{"role": turn["from"], "content": turn["value"]} for turn in trajectory]


def pair_to_dpo(row: dict) -> dict:
    """One UltraInteract_pair row -> {"prompt": [...], "chosen": [assistant], "rejected": [assistant]}."""
    return {
        "prompt": trajectory_messages(row["trajectory"]),
        "chosen": [{"role": "assistant", "content": row["chosen"]}],
        "rejected": [{"role": "assistant", "content": row["rejected"]}],
    }


def pair_to_kto(row: dict) -> list[dict]:
    """One pair -> a desirable (label True) and an undesirable (label False) unpaired row."""
    prompt = trajectory_messages(row["trajectory"])
    return [
        {"prompt": prompt, "completion": [{"role": "assistant", "content": row["chosen"]}], "label": True},
        {"prompt": prompt, "completion": [{"role": "assistant", "content": row["rejected"]}], "label": False},
    ]


def sft_to_messages(row: dict) -> dict:
    """One UltraInteract_sft row -> {"messages": [user, assistant], "instruction", "response"}."""
    return {
        "messages": [{"role": "user", "content": row["instruction"]},
                     {"role": "assistant", "content": row["response"]}],
        "instruction": row["instruction"],
        "response": row["response"],
    }


def sft_to_prompt_completion(row: dict) -> dict:
    """One SFT row -> conversational prompt/completion, for loss on the response only (TRL's default)."""
    return {"prompt": [{"role": "user", "content": row["instruction"]}],
            "completion": [{"role": "assistant", "content": row["response"]}]}


def to_dpo_dataset(rows: Iterable[dict]):
    """A datasets.Dataset with columns prompt, chosen, rejected."""
    return _dataset([pair_to_dpo(r) for r in rows])


def to_kto_dataset(rows: Iterable[dict]):
    """A datasets.Dataset with columns prompt, completion, label (two rows per pair)."""
    return _dataset([out for r in rows for out in pair_to_kto(r)])


def to_sft_dataset(rows: Iterable[dict], *, prompt_completion: bool = False):
    """A datasets.Dataset of messages (+ instruction, response), or prompt/completion with the flag."""
    convert = sft_to_prompt_completion if prompt_completion else sft_to_messages
    return _dataset([convert(r) for r in rows])


def _dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list(rows)
