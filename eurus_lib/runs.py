"""Run folders: where every stage reads its inputs and writes its outputs.

    runs/<name>/
      config.yaml      the resolved config of the latest invocation
      manifest.json    versions, hardware, seeds, and per-stage status and timings
      trees/ sft/ ...  one folder per stage
      figures/         figures the stages and the report draw
      notebooks/       executed notebooks, exported as HTML by `reproduce`
      report/          report.md and report.html

A stage records `running` when it starts and `done` when it ends, with its wall time, its peak
memory, the digest of the settings it ran with and which outputs of earlier stages it read
(`inputs`). So `reproduce` skips a stage that finished with the same settings and inputs,
resumes one that was interrupted under them, and sets aside the old outputs of any other
before running it afresh (`set_aside`: moved under `old/`, never mixed with new ones).
Under `accelerate launch` only the main process writes the manifest (`dist.is_main_process`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from .config import KitConfig, config_from_dict, describe
from .dist import is_main_process
from .hardware import hardware_summary, package_versions
from .memory import PeakMemory


class RunDir:
    """A run folder with its manifest. Create with `RunDir.open(path, cfg)`."""

    def __init__(self, root: Path, cfg: KitConfig):
        self.root = Path(root)
        self.cfg = cfg
        self.manifest_path = self.root / "manifest.json"
        self.manifest = self._load_manifest()

    @classmethod
    def open(cls, root: str | Path, cfg: KitConfig) -> RunDir:
        """Open (or create) a run folder and record the config this invocation uses."""
        run = cls(Path(root), cfg)
        if is_main_process():
            run.root.mkdir(parents=True, exist_ok=True)
            (run.root / "config.yaml").write_text(describe(cfg))
        run.manifest.update(
            {
                "preset": cfg.run.name,
                "seed": cfg.run.seed,
                "versions": package_versions(),
                "hardware": hardware_summary(),
            }
        )
        run.manifest.setdefault("created", _now())
        run.manifest.setdefault("stages", {})
        run.save_manifest()
        return run

    @classmethod
    def existing(cls, root: str | Path) -> RunDir:
        """Open a run folder that a previous command created, with its recorded config."""
        import yaml

        root = Path(root)
        cfg_path = root / "config.yaml"
        if not cfg_path.is_file():
            from .errors import KitError

            raise KitError(f"{root} is not a run folder (no config.yaml); run a stage there first.")
        return cls(root, config_from_dict(yaml.safe_load(cfg_path.read_text())))

    def path(self, *parts: str) -> Path:
        """A path inside the run folder; its parent folders are created."""
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def stage_record(self, name: str) -> dict:
        return self.manifest.get("stages", {}).get(name, {})

    def is_done(self, name: str, digest: str, inputs: dict | None = None) -> bool:
        """True when the stage finished with these settings (`digest`) on these upstream outputs."""
        rec = self.stage_record(name)
        return (rec.get("status") == "done" and rec.get("digest") == digest
                and rec.get("inputs", {}) == (inputs or {}))

    def can_resume(self, name: str, digest: str, inputs: dict | None = None) -> bool:
        """True when an earlier attempt under the same settings and inputs stopped before finishing."""
        rec = self.stage_record(name)
        return (rec.get("status") in ("running", "interrupted", "failed") and rec.get("digest") == digest
                and rec.get("inputs", {}) == (inputs or {}))

    def output_id(self, name: str) -> str | None:
        """An id of the outputs a finished stage left (new on every completion), for its readers' records."""
        return self.stage_record(name).get("output_id")

    def set_aside(self, name: str, patterns: Sequence[str]) -> Path | None:
        """Move a stage's earlier outputs (folders 'x/' and file globs) under old/<name>-<time>/; return it."""
        found = [p for pat in patterns for p in (sorted(self.root.glob(pat.rstrip("/"))))]
        found = [p for p in found if p.exists()]
        if not found or not is_main_process():
            return None
        target = self.root / "old" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
        for p in found:
            dest = target / p.relative_to(self.root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(p), str(dest))
        print(f"[{name}] earlier outputs set aside in {target}")
        return target

    @contextlib.contextmanager
    def stage(self, name: str, digest: str = "", inputs: dict | None = None) -> Iterator[dict]:
        """Time a stage and record its status, settings digest, inputs and peak memory.

        The body may add entries (e.g. `summary`) to the yielded dict.
        """
        prior = self.stage_record(name)
        rec = {"status": "running", "started": _now(), "digest": digest, "inputs": inputs or {},
               "attempts": prior.get("attempts", 0) + 1,
               # the manifest's versions are this invocation's; a stage keeps the commit it ran at
               "git_commit": self.manifest.get("versions", {}).get("git_commit")}
        self.manifest.setdefault("stages", {})[name] = rec
        self.save_manifest()
        t0 = time.perf_counter()
        peak = PeakMemory()
        try:
            yield rec
        except BaseException as exc:
            rec["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            rec["error"] = f"{type(exc).__name__}: {exc}"[:500]
            raise
        else:
            rec["status"] = "done"
            rec["output_id"] = uuid.uuid4().hex[:12]
        finally:
            rec["seconds"] = round(time.perf_counter() - t0, 1)
            rec.update(peak.read())
            rec["finished"] = _now()
            self.save_manifest()

    def save_manifest(self) -> None:
        if not is_main_process():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1, sort_keys=False, default=str))
        os.replace(tmp, self.manifest_path)

    def _load_manifest(self) -> dict:
        if self.manifest_path.is_file():
            return json.loads(self.manifest_path.read_text())
        return {}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
