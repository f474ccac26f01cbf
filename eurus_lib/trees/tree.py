"""A preference tree as plain data: turns of actions, the chosen and rejected one of each turn.

    tree = Tree.from_dict(json.loads(line))       # one line of trees/trees.jsonl
    tree.depth, tree.turns[0].chosen_action.text

The tree of section 2.3 is an imbalanced binary tree: at turn t the actor's history is the
instruction followed by the rejected actions of turns 1..t-1, each answered by a user turn
"Out: ...\\nYour answer is wrong.\\n<critique>". Every action sampled at a turn is kept (with
its observation, correctness and where it came from), so the trees file is the full record and
the released-format rows are views of it (`records.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field


@dataclass
class Action:
    text: str
    schema: str  # "cot" | "modular"
    actor: str  # model name, or "ground_truth"
    source: str  # "sampled" | "annotated" | "ground_truth"
    correct: bool
    observation: str = ""
    ran_code: bool = False
    error: str = ""
    predicted: str | None = None
    syntax_ok: bool = True
    critique: str | None = None


@dataclass
class Turn:
    turn: int
    actions: list[Action] = field(default_factory=list)
    chosen: int | None = None  # index into actions: the correct action that ends its trajectory
    rejected: int | None = None  # index into actions: the incorrect action (expanded unless last turn)
    feedback: str | None = None  # the user turn appended after the rejected action when expanded

    @property
    def chosen_action(self) -> Action | None:
        return None if self.chosen is None else self.actions[self.chosen]

    @property
    def rejected_action(self) -> Action | None:
        return None if self.rejected is None else self.actions[self.rejected]


@dataclass
class Tree:
    hash: str  # the hash of the row ids, `<hash>_<depth>_<turn>`
    parent_id: str  # the instruction's id, shared by every row of this problem
    task: dict  # Task.to_dict(): everything needed to re-judge or explain the tree
    instruction: str  # the first user turn, exactly as in the released rows
    turns: list[Turn] = field(default_factory=list)
    end: str = ""  # why growth stopped: "no_incorrect" (nothing to expand) | "max_turns" | "no_correct"

    @property
    def depth(self) -> int:
        return len(self.turns)

    def history(self, upto: int | None = None) -> list[dict]:
        """The conversation before turn `upto` (default: before the next turn), as {role, content}."""
        messages = [{"role": "user", "content": self.instruction}]
        for turn in self.turns[: (upto - 1) if upto else None]:
            if turn.feedback is None:
                break
            messages += [{"role": "assistant", "content": turn.rejected_action.text},
                         {"role": "user", "content": turn.feedback}]
        return messages

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> Tree:
        turns = [Turn(**{**t, "actions": [Action(**a) for a in t["actions"]]}) for t in row["turns"]]
        return cls(**{**row, "turns": turns})


def tree_hash(parent_id: str, index: int = 0) -> str:
    """The id hash of the `index`-th tree grown for an instruction (one per instruction here)."""
    return hashlib.sha256(f"tree\n{parent_id}\n{index}".encode()).hexdigest()


def feedback_message(observation: str, ran_code: bool, critique: str) -> str:
    """The user turn after an incorrect action, as in the released trajectories (paper Fig. 3)."""
    out = f"Out: {observation}\n" if ran_code else ""
    return f"{out}Your answer is wrong.\n{critique}"
