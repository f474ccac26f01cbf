"""The paper's benchmarks (section 4, Table 3) as the kit's Task rows, so the trees' judge applies.

    tasks = load_benchmark("gsm8k", limit=200)                          # openai/gsm8k, main, test
    tasks = load_benchmark("mbpp", path="data/benchmarks/mbpp.jsonl")  # a local file, released format
    records = judge(tasks, answer_tasks(model, tok, tasks), environment)

Online, rows come from the Hugging Face hub through `datasets` (each benchmark lists its
sources, tried in order: MATH's original `hendrycks/competition_math` was taken down, so its
common mirror follows). Offline, give `path`: a .jsonl or .json file in the dataset's released
field layout (data/benchmarks/ holds a few rows of each for the tests). No hub access is one
sentence (a KitError), never a traceback.

What each becomes (math benchmarks take `label`, "Math_CoT" by default; the paper tries CoT and
PoT and reports the better, section 4):
- gsm8k, gsm_plus, svamp, asdiv, theoremqa, math, math500: math tasks with the final answer.
  GSM8K's answer follows "####" (calculator marks <<..>> dropped from the rationale); MATH's is
  the last \\boxed{} of the solution; ASDiv's unit in parentheses is dropped; GSM-Plus's
  "critical thinking" rows have no answer and are skipped; TheoremQA rows with a picture are
  skipped (text-only policies).
- mbpp, humaneval, leetcode: code tasks judged by their unit tests through `check(candidate)`,
  the program the sandbox builds for every code task. LeetCode is the Eurus eval repo's
  `eval/Coding/leetcode/leetcode-test.json` (DeepSeek-Coder's contest set), local only.
- bbh: the 27 BIG-Bench Hard subtasks as logic tasks whose answer is the target text.

Where the kit's judge differs from a benchmark's own grader, the kit's judge wins (the point is
one judge for trees and evaluation), and scores are not the paper's numbers: MATH answers that
are expressions compare as text, not by MATH's equivalence rules; TheoremQA floats must match to
1e-6 relative, not its grader's tolerance; BBH is zero-shot, not 3-shot; LeetCode answers run
without the harness's prepended imports (`from typing import *`, ...). IFEval has no answer to
compare: it needs Google's instruction checkers, which the kit does not ship, so it is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, KitError
from ..tasks import Task, extract_final_answer, format_number, parse_number
from ..tasks.words import task_id

BBH_SUBTASKS = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa", "dyck_languages",
    "formal_fallacies", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects", "movie_recommendation",
    "multistep_arithmetic_two", "navigate", "object_counting", "penguins_in_a_table",
    "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection", "snarks",
    "sports_understanding", "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects", "web_of_lies",
    "word_sorting",
)
MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
                 "prealgebra", "precalculus")


@dataclass(frozen=True)
class Source:
    """One place on the hub a benchmark's rows live: a dataset, its configs (all read), a split."""

    path: str
    split: str
    configs: tuple = (None,)


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    sources: tuple[Source, ...]  # tried in order; empty: local files only
    convert: Callable[[dict, str], Task | None]  # (row, label) -> Task, or None to skip the row


def load_benchmark(name: str, *, path: str | Path | None = None, limit: int | None = None,
                   label: str = "Math_CoT") -> list[Task]:
    """The benchmark's problems as Tasks: from `path` (released format) or else from the hub."""
    bench = _benchmark(name)
    rows = read_rows(path) if path is not None else hub_rows(bench)
    return benchmark_tasks(name, rows, label=label)[:limit]


def benchmark_tasks(name: str, rows: Iterable[dict], *, label: str = "Math_CoT") -> list[Task]:
    """Convert rows in the released layout; rows the kit cannot judge (no answer, a picture) are skipped."""
    bench = _benchmark(name)
    if label not in ("Math_CoT", "Math_PoT"):
        raise KitError(f"label must be Math_CoT or Math_PoT (how math problems are posed), not {label!r}.")
    tasks = []
    for i, row in enumerate(rows):
        try:
            task = bench.convert(row, label)
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{bench.title} row {i} is not in the released format (missing or bad {exc}).") from exc
        if task is not None:
            tasks.append(task)
    return tasks


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a local file: JSON lines (LeetCode's .json is too), a JSON list, or BBH's {"examples": [...]}."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"No benchmark file at {path}.")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else data.get("examples", [data])
    except json.JSONDecodeError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is neither a JSON list nor JSON lines ({exc}).") from exc


def hub_rows(bench: Benchmark) -> list[dict]:
    """Rows from the first hub source that loads; one KitError sentence when none does."""
    if not bench.sources:
        raise KitError(f"{bench.title} is not on the Hugging Face hub; pass path= to a local copy.")
    try:
        from datasets import load_dataset
    except ImportError as exc:
        raise KitError("Loading benchmarks from the hub needs the 'datasets' package: pip install datasets.") from exc
    errors = []
    for source in bench.sources:
        try:
            return [{**row, "_config": config} for config in source.configs
                    for row in load_dataset(source.path, config, split=source.split)]
        except Exception as exc:  # noqa: BLE001 - offline, gated, renamed: all mean "try the next source"
            errors.append(f"{source.path}: {_first_line(exc)}")
    raise KitError(f"Could not load {bench.title} from the Hugging Face hub ({'; '.join(errors)}); "
                   "without network access pass path= to a local file in the released format.")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _benchmark(name: str) -> Benchmark:
    if name == "ifeval":
        raise KitError("IFEval has no answer to compare: it is judged by Google's instruction checkers "
                       "(instruction_following_eval), which the kit does not ship.")
    if name not in BENCHMARKS:
        raise KitError(f"Unknown benchmark {name!r}. Known: {', '.join(BENCHMARKS)}.")
    return BENCHMARKS[name]


def _task(family: str, label: str, dataset: str, prompt: str, **fields) -> Task:
    return Task(id=task_id(family, prompt), family=family, task=label, dataset=dataset, prompt=prompt.strip(),
                difficulty=0, **fields)


def _math(dataset: str, prompt: str, answer, label: str, rationale: str = "", meta: dict | None = None,
          kind: str | None = None) -> Task:
    answer = _number_text(answer)
    kind = kind or ("number" if parse_number(answer) is not None else "name")
    return _task("math", label, dataset, prompt, answer=answer, rationale=rationale.strip(),
                 meta={"answer_kind": kind, **(meta or {})})


def _number_text(value) -> str:
    """'8.0' -> '8', '1,234' -> '1234'; anything that is not one number is kept as written."""
    text = str(value).strip()
    number = parse_number(text) if re.fullmatch(r"-?[\d,]*\.?\d+", text) else None
    return format_number(number) if number is not None else text


def gsm8k_row(row: dict, label: str, dataset: str = "gsm8k") -> Task:
    """GSM8K: `question`, and `answer` = worked solution + "#### 42"."""
    rationale, _, answer = row["answer"].rpartition("####")
    return _math(dataset, row["question"], answer, label, re.sub(r"<<[^>]*>>", "", rationale))


def math_row(row: dict, label: str, dataset: str = "math") -> Task | None:
    """MATH: `problem`, `solution` ending in \\boxed{answer}, `level`, `type` (MATH-500 adds `answer`)."""
    answer = row.get("answer") or extract_final_answer(row["solution"])
    if not answer:
        return None
    meta = {"level": row.get("level"), "type": row.get("type") or row.get("subject")}
    return _math(dataset, row["problem"], answer, label, row["solution"], meta)


def gsm_plus_row(row: dict, label: str) -> Task | None:
    """GSM-Plus: GSM8K `question`s perturbed 8 ways; `answer` is "None" for critical-thinking rows."""
    if str(row["answer"]).strip() in ("", "None") or row.get("perturbation_type") == "critical thinking":
        return None
    return _math("gsm_plus", row["question"], row["answer"], label, row.get("solution") or "",
                 {"perturbation_type": row.get("perturbation_type")})


def svamp_row(row: dict, label: str) -> Task:
    """SVAMP: `Body` + `Question`, numeric `Answer`."""
    prompt = row.get("question_concat") or f"{row['Body'].strip()} {row['Question'].strip()}"
    return _math("svamp", prompt, row["Answer"], label, meta={"type": row.get("Type")})


def asdiv_row(row: dict, label: str) -> Task:
    """ASDiv: `body` + `question`; `answer` like "9 (apples)", whose unit is dropped."""
    answer = re.sub(r"\s*\([^)]*\)\s*$", "", str(row["answer"]))
    return _math("asdiv", f"{row['body'].strip()} {row['question'].strip()}", answer, label,
                 meta={"solution_type": row.get("solution_type")})


def theoremqa_row(row: dict, label: str) -> Task | None:
    """TheoremQA: `Question`, `Answer`, `Answer_type`; rows with a `Picture` are skipped."""
    if row.get("Picture"):
        return None
    kind = str(row.get("Answer_type", ""))
    answer = str(row["Answer"]).strip()
    if kind.startswith("list"):  # "[1, 2, 3]" is compared item by item, as a sequence
        return _math("theoremqa", row["Question"], answer.strip("[]"), label, meta={"answer_type": kind},
                     kind="sequence")
    return _math("theoremqa", row["Question"], answer, label, meta={"answer_type": kind})


def mbpp_row(row: dict, label: str) -> Task:
    """MBPP: `text` (sanitized: `prompt`), reference `code`, `test_list` of asserts, optional setup."""
    text = row.get("text") or row["prompt"]
    tests = list(row["test_list"])
    setup = [row.get("test_setup_code") or "", *row.get("test_imports", [])]
    prompt = f"{text.strip()}\nYour code should pass these tests:\n\n" + "\n".join(tests)
    return _task("code", "Coding", "mbpp", prompt, solution=row["code"], tests=check_function([*setup, *tests]),
                 entry_point=entry_point(row["code"], tests), meta={"task_id": row.get("task_id")})


def check_function(lines: Iterable[str]) -> str:
    """MBPP's asserts call the function by name, so check(candidate) just runs them."""
    body = [f"    {ln}" for chunk in lines for ln in str(chunk).splitlines() if ln.strip()]
    return "def check(candidate):\n" + "\n".join(body or ["    pass"]) + "\n"


def entry_point(code: str, tests: list[str]) -> str:
    """The reference code's function that the tests call (the first one, if several are called)."""
    defined = re.findall(r"^def\s+(\w+)", code, flags=re.MULTILINE)
    called = [name for name in defined if any(re.search(rf"\b{name}\s*\(", t) for t in tests)]
    if not (called or defined):
        raise KeyError("code: no function definition")
    return (called or defined)[0]


def humaneval_row(row: dict, label: str) -> Task:
    """HumanEval: `task_id`, `prompt`, `canonical_solution`, `test`, `entry_point` (the kit's own conversion)."""
    from ..tasks.humaneval import _to_task

    return _to_task(row)


def leetcode_row(row: dict, label: str) -> Task:
    """LeetCode contest rows: `prompt_sft`, `test` ending in `check(Solution().method)`, `meta.difficulty`."""
    lines = row["test"].rstrip().splitlines()
    call = re.fullmatch(r"\s*check\((.+)\)\s*", lines[-1])
    if call is None:
        raise KeyError("test: no final check(...) call")
    return _task("code", "Coding", "leetcode", row["prompt_sft"], tests="\n".join(lines[:-1]) + "\n",
                 entry_point=call.group(1), meta={"task_id": row.get("task_id"), "title": row.get("title"),
                                                  "difficulty": (row.get("meta") or {}).get("difficulty")})


def bbh_row(row: dict, label: str) -> Task:
    """BIG-Bench Hard: `input`, `target` (an option like "(A)", "True", "valid" or a word list)."""
    return _task("logic", "Logic", "bbh", row["input"], answer=str(row["target"]).strip(),
                 meta={"answer_kind": "name", "subtask": row.get("_config")})


BENCHMARKS = {b.name: b for b in (
    Benchmark("gsm8k", "GSM8K", (Source("openai/gsm8k", "test", ("main",)),), gsm8k_row),
    Benchmark("math", "MATH", (Source("hendrycks/competition_math", "test"),
                               Source("EleutherAI/hendrycks_math", "test", MATH_SUBJECTS)), math_row),
    Benchmark("math500", "MATH-500", (Source("HuggingFaceH4/MATH-500", "test"),),
              lambda row, label: math_row(row, label, "math500")),
    Benchmark("gsm_plus", "GSM-Plus", (Source("qintongli/GSM-Plus", "test"),), gsm_plus_row),
    Benchmark("svamp", "SVAMP", (Source("ChilleD/SVAMP", "test"),), svamp_row),
    Benchmark("asdiv", "ASDiv", (Source("EleutherAI/asdiv", "validation"),), asdiv_row),
    Benchmark("theoremqa", "TheoremQA", (Source("TIGER-Lab/TheoremQA", "test"),), theoremqa_row),
    Benchmark("mbpp", "MBPP", (Source("google-research-datasets/mbpp", "test", ("full",)),), mbpp_row),
    Benchmark("humaneval", "HumanEval", (Source("openai/openai_humaneval", "test"),), humaneval_row),
    Benchmark("leetcode", "LeetCode (Eurus eval/Coding/leetcode/leetcode-test.json)", (), leetcode_row),
    Benchmark("bbh", "BIG-Bench Hard", (Source("lukaemon/bbh", "test", BBH_SUBTASKS),), bbh_row),
)}
