"""Run folders: where every stage reads its inputs and writes its outputs.

    runs/<name>/
      config.yaml      the resolved config of the latest invocation
      manifest.json    versions, hardware, seeds, and per-stage status and timings
      trees/ sft/ ...  one folder per stage
      figures/         figures the stages and the report draw
      notebooks/       executed notebooks, exported as HTML by `reproduce`
      report/          report.md and report.html

A stage records `running` when it starts and `done` (with its seconds and outputs) when it
ends, so `reproduce` skips finished stages and re-runs an interrupted one, which then resumes
from whatever it had written (stages keep their own outputs append-only where that matters).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .config import KitConfig, config_from_dict, describe
from .hardware import hardware_summary, package_versions


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
        run.root.mkdir(parents=True, exist_ok=True)
        (run.root / "config.yaml").write_text(describe(cfg))
        run.manifest.update(
            {
                "preset": cfg.run.name,
                "seed": cfg.run.seed,
                "config_digest": config_digest(cfg),
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

    def is_done(self, name: str) -> bool:
        """True when the stage finished with the current config (a changed config re-runs it)."""
        rec = self.stage_record(name)
        return rec.get("status") == "done" and rec.get("config_digest") == config_digest(self.cfg)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time a stage and record its status; the body may add entries (e.g. `outputs`) to the yielded dict."""
        rec = {"status": "running", "started": _now(), "config_digest": config_digest(self.cfg)}
        prior = self.stage_record(name)
        rec["attempts"] = prior.get("attempts", 0) + 1
        self.manifest.setdefault("stages", {})[name] = rec
        self.save_manifest()
        t0 = time.perf_counter()
        try:
            yield rec
        except BaseException as exc:
            rec["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            rec["error"] = f"{type(exc).__name__}: {exc}"[:500]
            raise
        else:
            rec["status"] = "done"
        finally:
            rec["seconds"] = round(time.perf_counter() - t0, 1)
            rec["finished"] = _now()
            self.save_manifest()

    def save_manifest(self) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1, sort_keys=False, default=str))
        os.replace(tmp, self.manifest_path)

    def _load_manifest(self) -> dict:
        if self.manifest_path.is_file():
            return json.loads(self.manifest_path.read_text())
        return {}


def config_digest(cfg: KitConfig) -> str:
    """Short hash of everything that shapes a stage's outputs (the run name excluded)."""
    data = cfg.to_dict()
    data["run"] = {k: v for k, v in data["run"].items() if k != "name"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
