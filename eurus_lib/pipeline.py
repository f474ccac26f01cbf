"""Run stages into a run folder: one stage alone, or the whole reproduction in order."""

from __future__ import annotations

import time
from pathlib import Path

from .config import KitConfig
from .dist import is_main_process, wait_for_everyone
from .errors import KitError
from .hardware import pick_device
from .notebooks import NOTEBOOK_DIR, execute_notebook
from .report import write_report
from .runs import RunDir
from .stages import STAGES, Stage, stage_digest


def run_stage(stage: Stage, cfg: KitConfig, run: RunDir, *, force: bool = False) -> dict | None:
    """Run one stage unless it already finished with these settings and inputs; return its summary.

    A stage interrupted under the same settings resumes from what it wrote. In every other case
    (`force`, a changed setting, new outputs upstream) its earlier outputs are set aside under
    `old/` first, so a fresh run never mixes old and new files.
    """
    if not stage.is_built():
        print(f"[{stage.name}] not built yet in this version of the kit: skipped.")
        return None
    check_inputs(stage, run)
    digest, inputs = stage_digest(stage, cfg), upstream_outputs(stage, run)
    if run.is_done(stage.name, digest, inputs) and not force:
        print(f"[{stage.name}] already done in {run.root} with these settings: skipped (use --force to redo).")
        return run.stage_record(stage.name).get("summary")
    if force or not run.can_resume(stage.name, digest, inputs):
        run.set_aside(stage.name, stage.writes)
    device, why = pick_device(cfg)
    print(f"[{stage.name}] {stage.title} on {device} ({why})", flush=True)
    with run.stage(stage.name, digest, inputs) as rec:
        if stage.main_process_only and not is_main_process():
            summary = {}  # the main process does this stage; the others wait below
        else:
            summary = stage.run_fn(cfg, run) or {}
        wait_for_everyone()
        rec["summary"] = summary
    outputs = summary.get("outputs", [])
    print(f"[{stage.name}] done in {rec['seconds']:.0f} s (peak memory {rec.get('peak_rss_gib')} GiB); wrote: "
          + (", ".join(map(str, outputs)) or "nothing"))
    return summary


def check_inputs(stage: Stage, run: RunDir) -> None:
    """Refuse to start a stage whose input files are missing, naming the stage that writes them."""
    for rel in stage.reads:
        if not (run.root / rel).exists():
            writer = next((s.name for s in STAGES if any(rel.startswith(w.rstrip("*")) for w in s.writes)), "?")
            raise KitError(f"The {stage.name} stage reads {rel}, which the {writer} stage writes; run "
                           f"`eurus-kit {writer} --run-dir {run.root}` first (or `eurus-kit reproduce`).")


def upstream_outputs(stage: Stage, run: RunDir) -> dict:
    """Which outputs of earlier stages this run would read: their completion ids from the manifest."""
    return {name: run.output_id(name) for name in stage.after if run.output_id(name)}


def reproduce(cfg: KitConfig, run: RunDir, *, force: bool = False, notebooks: bool = True,
              figures_dir: Path | None = None) -> Path:
    """The main job: every built stage in order, the executed notebooks, then the report.

    With `figures_dir` (the Makefile passes the repo's `figures/`), the run's figures are copied
    there too, so the committed figures are always the output of a real run.
    """
    pick_device(cfg)  # refuse a GPU preset before any work starts
    t0 = time.perf_counter()
    for stage in STAGES:
        run_stage(stage, cfg, run, force=force)
    if not is_main_process():
        return run.root / "report" / "report.html"  # notebooks, report and figures: main process only
    if notebooks:
        export_notebooks(cfg, run)
    report = write_report(run)
    if figures_dir is not None:
        publish_figures(run, Path(figures_dir))
    print(f"reproduce finished in {time.perf_counter() - t0:.0f} s; report: {report}")
    return report


def export_notebooks(cfg: KitConfig, run: RunDir) -> list[Path]:
    """Execute the course notebooks (those of unbuilt stages left out) and save them as HTML in the run folder."""
    unbuilt = {s.notebook for s in STAGES if not s.is_built()} - {s.notebook for s in STAGES if s.is_built()}
    written = []
    for nb in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        if nb.name not in unbuilt:  # 00 and 06 belong to no stage: always run
            html = run.path("notebooks", nb.with_suffix(".html").name)
            print(f"[notebooks] executing {nb.name} ...", flush=True)
            with run.stage(f"notebook:{nb.stem}"):
                execute_notebook(nb, run_dir=run.root, preset=cfg.run.name, html=html)
            written.append(html)
    print(f"[notebooks] wrote {len(written)} HTML files to {run.root / 'notebooks'}")
    return written


def publish_figures(run: RunDir, target: Path) -> list[Path]:
    """Copy the run's figures (PNG) into `target`, noting which run they came from."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    copied = [Path(shutil.copy2(p, target / p.name)) for p in sorted((run.root / "figures").glob("*.png"))]
    m = run.manifest
    hw = m.get("hardware", {})
    (target / "SOURCE.md").write_text(
        f"Figures copied from the run folder `{run.root.name}` (preset {m.get('preset')}, seed {m.get('seed')}, "
        f"commit {m.get('versions', {}).get('git_commit')}), made on {hw.get('cpu_count')} CPU cores "
        f"with GPU: {', '.join(g['name'] for g in hw.get('cuda', [])) or 'none'}.\n"
        "Regenerate them with `make reproduce`.\n")
    print(f"[figures] copied {len(copied)} figures to {target}/")
    return copied
