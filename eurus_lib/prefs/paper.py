"""The paper's numbers our preference runs are compared with (arXiv 2404.02078; eurus-paper.md 3.2, 3.3).

    FINAL_CHOSEN["dpo"]        # -1.26: figure 5, the chosen reward at the last step
    table3_rows()              # {"paper 7B SFT": {"math": 54.2, "code": 44.9, "all": 46.5}, ...}

Table 3 reports 12 benchmarks, not our task families, so only columns that test the same kind of
problem are mapped: our `math` family against the mean of the paper's five math columns (GSM-Plus,
MATH, TheoremQA, SVAMP, ASDiv) and `code` against its three coding columns (HumanEval, MBPP,
LeetCode). Our `logic` family (generated deduction puzzles) has no counterpart: BBH is a mixed
reasoning suite, so it is left blank rather than paired with a different task. `all` is the
paper's printed 12-benchmark average (it also counts IFEval, BBH and MINT), so it is the number the
paper's claim rests on, not a like-for-like average of ours.
"""

from __future__ import annotations

FINAL_CHOSEN = {"dpo": -1.26, "kto": 0.4, "nca": 0.16}  # figure 5, printed in red
EXPECTED_SIGN = {"dpo": -1, "kto": 1, "nca": 1}  # section 6.1: DPO's chosen reward falls, KTO's and NCA's rise

BENCHMARKS = ("HumanEval", "MBPP", "LeetCode", "GSM-Plus", "MATH", "TheoremQA", "SVAMP", "ASDiv", "BBH",
              "IFEval", "MINT-Code", "MINT-Math", "Avg")
TABLE3_7B = {  # Eurus-7B rows of Table 3, in BENCHMARKS order
    "sft": (55.5, 59.1, 20.0, 52.1, 32.6, 20.0, 82.2, 84.1, 64.6, 44.0, 15.4, 28.4, 46.5),
    "dpo": (50.6, 52.1, 8.3, 51.0, 28.3, 20.9, 78.7, 83.8, 65.0, 42.5, 20.6, 32.4, 44.5),
    "kto": (56.1, 58.6, 18.9, 55.0, 33.2, 20.6, 84.4, 85.0, 67.6, 43.1, 19.1, 43.6, 48.8),
    "nca": (55.5, 60.2, 14.4, 54.9, 34.2, 20.9, 84.6, 85.4, 64.3, 42.7, 21.3, 38.7, 48.1),
}
FAMILY_COLUMNS = {"math": ("GSM-Plus", "MATH", "TheoremQA", "SVAMP", "ASDiv"),
                  "code": ("HumanEval", "MBPP", "LeetCode"), "all": ("Avg",)}


def table3_family(policy: str) -> dict[str, float]:
    """The paper's 7B numbers for one policy, mapped onto our families (mean of the mapped columns)."""
    values = dict(zip(BENCHMARKS, TABLE3_7B[policy], strict=True))
    return {family: round(sum(values[c] for c in cols) / len(cols), 1) for family, cols in FAMILY_COLUMNS.items()}


def table3_rows(policies=("sft", "dpo", "kto", "nca")) -> dict[str, dict[str, float]]:
    """Rows for `eval.heldout.comparison_markdown(paper=...)`."""
    return {f"paper 7B {p.upper()}": table3_family(p) for p in policies if p in TABLE3_7B}
