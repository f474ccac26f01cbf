"""The rows a notebook teaches from: its run folder's, or else the small sample shipped in data/samples/.

    src = sft_source(run, cfg.sft)        # Source(rows, origin="run" | "sample", path, note)
    print(src.note)                       # one sentence saying where the rows came from, and why
    result = stage_result(run, "prefs")   # the stage's summary and step logs, or a real tiny run's

`data/samples/` holds a few dozen rows from a real tiny run (SFT rows, trajectory pairs, held-out
problems) and the small results its stages wrote (RESULT_FILES: trees statistics, sft/prefs/rm
summaries and step logs, rm held-out scores, the eval stage's tables). It is built by

    python -m eurus_lib.course.samples runs/tiny        # writes data/samples/ and its README

which picks rows round-robin over task labels (and, for pairs, over first and later turns) in
file order, skipping long ones, so the notebooks' demos stay a few steps of small batches.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..jsonl import read_jsonl, write_jsonl

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
# Per stage, the files a shipped real run keeps; the first is the stage's main result (it must exist).
RESULT_FILES = {"trees": ("stats.json",),
                "sft": ("summary.json", "log.jsonl"),
                "prefs": ("summary.json", "dpo/log.jsonl", "kto/log.jsonl", "nca/log.jsonl"),
                "rm": ("summary.json", *(f"{o}/{f}" for o in ("bt+dr", "bt", "dr")
                                         for f in ("log.jsonl", "heldout_scores.jsonl"))),
                "eval": ("heldout.json", "best_of_n.json", "multiturn.json",
                         *(f"multiturn/{p}.jsonl" for p in ("base", "sft", "dpo", "kto", "nca")))}
# Multi-turn records keep only what success by turn and its intervals need (the answers are long).
SLIM_FIELDS = {"multiturn/": ("id", "family", "task", "solved_turn")}


@dataclass
class Source:
    rows: list
    origin: str  # "run": the run folder's stage output; "sample": data/samples/
    path: Path
    note: str  # one sentence for the notebook to print


def _shown(path: Path) -> str:
    """A sample path as the repository names it, a run path as it is."""
    try:
        return str(path.relative_to(SAMPLES.parents[1]))
    except ValueError:
        return str(path)


def sft_source(run, settings, samples: Path = SAMPLES) -> Source:
    """Distinct SFT rows of the run's trees stage, else of the shipped sample (same filters either way)."""
    from ..sft.data import sft_rows

    stage_file = run.root / "trees" / "sft.jsonl"
    if read_jsonl(stage_file):
        path, where = stage_file, "this run's trees stage"
        rows = sft_rows(run, settings)
    else:
        path = samples / "sft.jsonl"
        rows = sft_rows(run, dataclasses.replace(settings, data=str(path)))
        where = f"the sample shipped in {_shown(path)}, because the trees stage has not run in {run.root}"
    raw = len(read_jsonl(path))
    return Source(rows, "run" if path == stage_file else "sample", path,
                  f"{len(rows)} distinct SFT rows ({raw} before repeats were dropped) from {where}.")


def pairs_source(run, samples: Path = SAMPLES) -> Source:
    """The run's trajectory pairs (trees/pairs.jsonl), else the shipped sample's."""
    stage_file = run.root / "trees" / "pairs.jsonl"
    rows = read_jsonl(stage_file)
    if rows:
        return Source(rows, "run", stage_file, f"{len(rows)} trajectory pairs from this run's trees stage.")
    path = samples / "pairs.jsonl"
    rows = read_jsonl(path)
    return Source(rows, "sample", path, f"{len(rows)} trajectory pairs from the sample shipped in {_shown(path)}, "
                                        f"because the trees stage has not run in {run.root}.")


def heldout_source(run, cfg, samples: Path = SAMPLES) -> Source:
    """The run's held-out problems (capped at eval.max_problems), else the shipped sample's."""
    from ..policies import heldout_tasks
    from ..tasks.io import load_tasks

    stage_file = run.root / "tasks" / "heldout.jsonl"
    if stage_file.is_file():
        tasks = heldout_tasks(run, cfg)
        return Source(tasks, "run", stage_file, f"{len(tasks)} held-out problems from this run's tasks stage.")
    path = samples / "heldout.jsonl"
    tasks = load_tasks(path)[: cfg.eval.max_problems]
    return Source(tasks, "sample", path, f"{len(tasks)} held-out problems from the sample shipped in {_shown(path)}, "
                                         f"because the tasks stage has not run in {run.root}; with so few, the "
                                         "intervals are wide.")


def sft_policy(run, cfg) -> tuple[str, str]:
    """(model spec, sentence): the run's SFT policy when the sft stage saved one, else the base model."""
    folder = run.root / "sft" / "model"
    if (folder / "adapter_config.json").is_file() or (folder / "config.json").is_file():
        return str(folder), f"the SFT policy of this run's sft stage ({folder})"
    return cfg.model.policy, (f"the base model {cfg.model.policy}, because the sft stage has not run in {run.root} "
                              "(the paper starts preference learning from Eurus-7B-SFT)")


@dataclass
class StageResult:
    summary: dict  # the stage's main result file (RESULT_FILES[stage][0]): summary.json, stats.json, heldout.json
    logs: dict[str, list[dict]]  # "sft" -> its step log; "dpo"/"kto"/"nca", "bt+dr"/"bt"/"dr" -> theirs
    origin: str  # "run" or "sample"
    note: str
    folder: Path | None = None  # where the files are: read the stage's other outputs from here

    def read(self, name: str):
        """Another file of the stage (JSON, or JSONL as a list of rows); None when it is not there."""
        path = self.folder / name
        if not path.is_file():
            return None
        return read_jsonl(path) if path.suffix == ".jsonl" else json.loads(path.read_text())


def stage_result(run, stage: str, samples: Path = SAMPLES) -> StageResult | None:
    """What a stage wrote (its main result and step logs), from the run folder, else from the shipped real run."""
    main, *others = RESULT_FILES[stage]
    for folder, origin in ((run.root / stage, "run"), (samples / "results" / stage, "sample")):
        if (folder / main).is_file():
            summary = json.loads((folder / main).read_text())
            logs = {name.split("/")[0] if "/" in name else stage: read_jsonl(folder / name)
                    for name in others if name.endswith("log.jsonl") and (folder / name).is_file()}
            note = (f"the {stage} stage's own outputs in {folder}" if origin == "run" else
                    f"the {stage} stage has not run in {run.root}: showing what it wrote in a real tiny run, shipped "
                    f"in {_shown(folder)} (data/samples/README.md says which run)")
            return StageResult(summary, logs, origin, note, folder)
    return None


# --- building the samples from a real run -------------------------------------------------------------


def round_robin(rows: Sequence[dict], bucket: Callable[[dict], object], n: int, max_chars: int,
                size: Callable[[dict], int]) -> list[dict]:
    """Up to n rows no longer than max_chars, taking one from each bucket in turn, each bucket in file order."""
    buckets: dict[object, list[dict]] = {}
    for row in rows:
        if size(row) <= max_chars:
            buckets.setdefault(bucket(row), []).append(row)
    picked, queues = [], [list(b) for b in buckets.values()]
    while len(picked) < n and any(queues):
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(queue.pop(0))
    return picked


def pair_turn(row: dict) -> int:
    """The turn a pair answers: the number of user turns in its trajectory."""
    return sum(1 for t in row["trajectory"] if t["from"] == "user")


def pair_chars(row: dict) -> int:
    return sum(len(t["value"]) for t in row["trajectory"]) + max(len(row["chosen"]), len(row["rejected"]))


def build_samples(run_dir: str | Path, out: str | Path = SAMPLES, *, n_sft: int = 36, n_pairs: int = 32,
                  n_heldout: int = 6, max_chars: int = 2400) -> dict:
    """Copy a small, balanced sample of a real run's rows and its sft/prefs results into `out`."""
    from ..trees.records import distinct_sft_rows

    run_dir, out = Path(run_dir), Path(out)
    sft = round_robin(distinct_sft_rows(read_jsonl(run_dir / "trees" / "sft.jsonl")), lambda r: r["task"], n_sft,
                      max_chars, lambda r: len(r["instruction"]) + len(r["response"]))
    pairs = round_robin(read_jsonl(run_dir / "trees" / "pairs.jsonl"), lambda r: (r["task"], pair_turn(r) > 1),
                        n_pairs, max_chars, pair_chars)
    heldout = round_robin(read_jsonl(run_dir / "tasks" / "heldout.jsonl"), lambda r: r["family"], n_heldout,
                          10**9, lambda r: 0)
    counts = {name: write_jsonl(out / f"{name}.jsonl", rows)
              for name, rows in (("sft", sft), ("pairs", pairs), ("heldout", heldout))}
    copy_results(run_dir, out / "results")
    (out / "README.md").write_text(readme(run_dir, counts, max_chars))
    return counts


def copy_results(run_dir: Path, out: Path) -> list[str]:
    """Copy each stage's RESULT_FILES that the run has into out/<stage>/ (multi-turn records slimmed)."""
    copied = []
    for stage, names in RESULT_FILES.items():
        for name in names:
            src, dst = run_dir / stage / name, out / stage / name
            if not src.is_file():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            keep = next((fields for prefix, fields in SLIM_FIELDS.items() if name.startswith(prefix)), None)
            if keep:
                write_jsonl(dst, [{k: r.get(k) for k in keep} for r in read_jsonl(src)])
            else:
                shutil.copy2(src, dst)
            copied.append(f"{stage}/{name}")
    return copied


def readme(run_dir: Path, counts: dict, max_chars: int) -> str:
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").is_file() else {}
    stages = {k: v.get("status") for k, v in manifest.get("stages", {}).items()}
    commit = manifest.get("versions", {}).get("git_commit") or "unknown"
    return f"""# Shipped samples for the course notebooks

The notebooks `02_sft` to `06_reproduce_the_paper` start from these files when their run folder
has no output of the stage before them, and say so (`eurus_lib/course/samples.py`).

| file | rows | from the run's |
|---|---|---|
| `sft.jsonl` | {counts['sft']} | `trees/sft.jsonl` (distinct rows, round-robin over task labels) |
| `pairs.jsonl` | {counts['pairs']} | `trees/pairs.jsonl` (round-robin over task label x first / later turn) |
| `heldout.jsonl` | {counts['heldout']} | `tasks/heldout.jsonl` (round-robin over families) |
| `results/sft/` | summary, step log | `sft/summary.json`, `sft/log.jsonl` |
| `results/prefs/` | summary, step logs | `prefs/summary.json`, `prefs/<algo>/log.jsonl` |
| `results/trees/` | Table 1 statistics | `trees/stats.json` |
| `results/rm/` | summary, step logs, held-out scores | `rm/summary.json`, `rm/<objective>/{{log,heldout_scores}}.jsonl` |
| `results/eval/` | Table 3, best-of-N, MINT analogs | `eval/{{heldout,best_of_n,multiturn}}.json`, `eval/multiturn/<policy>.jsonl` (id, family, task, solved turn only) |

Notebooks 04-06 show these results when their run folder has none of its own, and say so.

Rows longer than {max_chars} characters (prompt and the longer response) are skipped, so a demo step
stays short; each bucket is taken in file order, so the sample is not chosen by content.

Source: a real run of the `{manifest.get('preset', '?')}` preset, seed {manifest.get('seed', '?')}, at commit
`{commit}`; stages: {', '.join(f'{k} {v}' for k, v in stages.items()) or 'unknown'}.
Rebuild with `python -m eurus_lib.course.samples <run folder>` (the run folder of `make reproduce`
is `runs/tiny`).
"""


def main(argv: Sequence[str] | None = None) -> None:
    """python -m eurus_lib.course.samples RUN_DIR [OUT]: rebuild data/samples/ from a run folder."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m eurus_lib.course.samples RUN_DIR [OUT]   (OUT defaults to data/samples)")
        return
    counts = build_samples(argv[0], argv[1] if len(argv) > 1 else SAMPLES)
    print(f"wrote {counts} to {argv[1] if len(argv) > 1 else SAMPLES}")


if __name__ == "__main__":
    main()
