"""The judge: finding the final answer in an action or output, and comparing it to ground truth."""

from __future__ import annotations

import pytest

from eurus_lib.tasks import Task, answers_match, extract_final_answer, parse_number, ultrainteract_instruction
from eurus_lib.tasks.answers import format_number


def _task(answer: str, kind: str | None = None, label: str = "Math_CoT") -> Task:
    meta = {"answer_kind": kind} if kind else {}
    return Task(id="t", family="math", task=label, dataset="test", prompt="p", answer=answer, meta=meta)


@pytest.mark.parametrize("text, expected", [
    ("Step 1: 6 * 7 = 42.\nAnswer:\n\\boxed{42}", "42"),
    ("so the total is \\boxed{\\frac{3}{4}} and we are done", "\\frac{3}{4}"),
    ("first \\boxed{1} then corrected \\boxed{2}", "2"),
    ("Step 3: add them.\nAnswer: 1,234 apples.", "1,234 apples"),
    ("The answer is 17.", "17"),
    ("So the final answer is 3,000 dollars.", "3,000 dollars"),
    ("Final answer: Ada, Bo, Cy", "Ada, Bo, Cy"),
    ("<thought>count</thought><solution> 12 </solution>", "12"),
    ("Out: 99\nYour answer is wrong.", "99"),
    ("Step 1: compute.\n42\n", "42"),
    ("Step 1: compute.\n42.", "42"),
    ("Step 1: compute.\n$1,234.50", "$1,234.50"),
])
def test_extract_final_answer_follows_the_documented_rules(text, expected):
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize("text", [
    "Step 1: there are 3 bags with 4 marbles each, so 12 in all.",
    "I am not sure.",
    "Your answer is wrong.",
    "",
    None,
])
def test_a_number_in_running_prose_is_never_taken_as_the_answer(text):
    assert extract_final_answer(text) is None


def test_printed_output_counts_its_last_line():
    assert extract_final_answer("debug 3\nAda, Bo, Cy\n", printed=True) == "Ada, Bo, Cy"
    assert extract_final_answer("debug 3\nAda, Bo, Cy\n") is None


@pytest.mark.parametrize("predicted", [
    "1234", "1,234", "$1,234.00", "1234 apples", "\\boxed{1234}", "Answer: 1234.", "1234.0\n", "  1234  ",
    "The answer is $1,234$.",
])
def test_numbers_match_through_commas_units_currency_and_boxes(predicted):
    assert answers_match(_task("1234"), predicted)


@pytest.mark.parametrize("predicted", ["1233", "12345", "1234 or 1235", "", "no idea", None])
def test_wrong_or_ambiguous_numbers_do_not_match(predicted):
    assert not answers_match(_task("1234"), predicted)


def test_fractions_decimals_and_percent_compare_by_value():
    assert answers_match(_task("0.75"), "3/4")
    assert answers_match(_task("0.75"), "\\boxed{\\frac{3}{4}}")
    assert answers_match(_task("37.5"), "37.50000000001")
    assert answers_match(_task("-2"), "−2")
    assert answers_match(_task("25"), "25%")
    assert not answers_match(_task("0.75"), "0.7")


def test_sequences_compare_in_order_ignoring_case_and_spacing():
    task = _task("Ada, Bo, Cy", "sequence", "Logic")
    assert answers_match(task, "ada,bo ,  CY.")
    assert answers_match(task, "Answer: Ada, Bo and Cy")
    assert answers_match(task, "Ada -> Bo -> Cy")
    assert answers_match(task, "1. Ada\n2. Bo\n3. Cy")
    assert answers_match(task, "6 orders checked\nAda, Bo, Cy\n")
    assert answers_match(task, "Ada, then Bo, then Cy")
    assert not answers_match(task, "Bo, Ada, Cy")
    assert not answers_match(task, "Ada, Bo")


def test_sets_compare_in_any_order():
    task = _task("Ada, Cy", "set", "Logic")
    assert answers_match(task, "Cy, Ada")
    assert answers_match(task, "\\boxed{cy and ada}")
    assert not answers_match(task, "Ada")
    assert not answers_match(task, "Ada, Bo, Cy")


def test_names_compare_ignoring_case_whitespace_and_trailing_period():
    task = _task("Noor", "name", "Logic")
    assert answers_match(task, "  noor. ")
    assert answers_match(task, "The answer is **Noor**")
    assert not answers_match(task, "Nora")


def test_code_tasks_have_no_answer_to_match():
    assert not answers_match(_task(""), "42")


def test_parse_number_refuses_several_numbers_and_format_number_is_canonical():
    assert parse_number("3 bags of 4") is None
    assert parse_number("-1,000.5 dollars") == -1000.5
    assert format_number(42) == "42"
    assert format_number(0.25) == "0.25"
    assert format_number(37.5) == "37.5"


@pytest.mark.parametrize("label, prefix", [
    ("Coding", "Write Python code to solve the task.\n"),
    ("Math_CoT", "Solve the following math problem step-by-step.\nSimplify your answer as much as possible. "
                 "Present your final answer as \\boxed{Your Answer}.\n"),
    ("Math_PoT", "Tool available:\n[1] Python interpreter\nWhen you send a message containing Python code to python, "
                 "it will be executed in a stateful Jupyter notebook environment.\nSolve the following math problem "
                 "step-by-step.\nSimplify your answer as much as possible.\n"),
    ("Logic", "Tool available:\n[1] Python interpreter\n"),
])
def test_instructions_use_ultrainteract_prefixes_verbatim(label, prefix):
    task = Task(id="t", family="x", task=label, dataset="d", prompt="PROBLEM")
    text = ultrainteract_instruction(task)
    assert text.startswith(prefix) and text.endswith("\nPROBLEM")
    if label == "Logic":
        assert text.endswith("Solve the following problem step-by-step:\nPROBLEM")


def test_an_unknown_task_label_is_a_clear_error():
    from eurus_lib.errors import DataError

    with pytest.raises(DataError, match="Math_CoT"):
        ultrainteract_instruction(Task(id="t", family="x", task="Math_Cot", dataset="d", prompt="p"))


def test_one_list_of_task_labels_drives_prefixes_the_row_validator_and_the_statistics():
    from eurus_lib.errors import DataError
    from eurus_lib.tasks import PREFIXES, TASK_LABELS
    from eurus_lib.trees import stats
    from eurus_lib.ultrainteract import schema, validate_sft_row

    assert TASK_LABELS == ("Math_PoT", "Math_CoT", "Coding", "Logic")  # Table 1 row order
    assert set(PREFIXES) == set(TASK_LABELS) and schema.TASK_LABELS is TASK_LABELS and stats.TASK_LABELS is TASK_LABELS
    row = {"task": "Math", "dataset": "d", "instruction": "i", "response": "r", "id": "x", "parent_id": "p"}
    with pytest.raises(DataError, match="expected one of Math_PoT, Math_CoT, Coding, Logic"):
        validate_sft_row(row, 0)


def test_answer_is_followed_by_a_colon_is_read_without_it():
    assert extract_final_answer("Tom has 380 apples. The answer is: 380") == "380"
