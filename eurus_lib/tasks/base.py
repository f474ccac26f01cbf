"""The one record every task family produces, and every later stage consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# UltraInteract's task labels, the one list the kit uses, in the row order of the paper's Table 1:
# math with the interpreter (Program-of-Thought), math without it (chain of thought), code, logic.
TASK_LABELS = ("Math_PoT", "Math_CoT", "Coding", "Logic")


@dataclass(frozen=True)
class Task:
    """A problem with everything needed to judge and to repair an answer to it.

    `task` is one of UltraInteract's labels (`TASK_LABELS`) so rows written from it match the
    released datasets; `family` is the kit's coarser grouping.
    """

    id: str  # stable hash of family + prompt: the tree's parent_id
    family: str  # "math" | "code" | "logic"
    task: str  # one of TASK_LABELS
    dataset: str  # source, e.g. "tiny-math", "tiny-logic", "humaneval"
    prompt: str  # the problem statement, without the UltraInteract instruction prefix
    answer: str = ""  # ground-truth final answer (math, logic); "" for code
    solution: str = ""  # ground-truth program: math solution program or code reference solution
    rationale: str = ""  # worded ground-truth reasoning ("Step 1: ...")
    tests: str = ""  # code: HumanEval-style test code defining check(candidate)
    entry_point: str = ""  # code: name of the function to write
    difficulty: int = 1
    meta: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> Task:
        return cls(**row)
