"""The run report: what ran, on what machine, how long it took, and each stage's results.

Written by `eurus-kit report` and at the end of `reproduce`, as `report/report.md` plus a
self-contained-enough `report/report.html` (figures are linked from the run folder).
"""

from __future__ import annotations

from pathlib import Path

from .dist import is_main_process
from .runs import RunDir
from .stages import STAGES, Stage


def write_report(run: RunDir) -> Path:
    """Write report.md and report.html into the run folder; return the HTML path (main process only)."""
    if not is_main_process():
        return run.root / "report" / "report.html"
    md = render_report(run)
    md_path = run.path("report", "report.md")
    md_path.write_text(md)
    html_path = run.path("report", "report.html")
    html_path.write_text(_html(md))
    print(f"[report] wrote {md_path} and {html_path}")
    return html_path


def render_report(run: RunDir) -> str:
    m = run.manifest
    lines = [f"# eurus-kit run: {m.get('preset', '?')}", "",
             "Reproduction of *Eurus: Advancing LLM Reasoning Generalists with Preference Trees* "
             "(arXiv 2404.02078) at this preset's scale.", "", _machine(m), "", _timings(run), ""]
    for stage in STAGES:
        lines += [f"## {stage.title}", "", f"*Paper: {stage.paper}. Notebook: `notebooks/{stage.notebook}`.*", "",
                  _stage_body(stage, run), ""]
    lines += [_verdicts(run), "", _notebook_links(run), ""]
    return "\n".join(lines)


def _verdicts(run: RunDir) -> str:
    """The closing table: one verdict per claim of the paper, computed from this folder (eurus_lib/verdicts.py)."""
    from .verdicts import verdict_markdown, verdict_rows

    return ("## Verdict: the paper's claims at this scale\n\n"
            "Supported: our run shows it (beyond the 95% intervals where it is a difference). Not supported at this "
            "scale: measured here and not shown, with what we saw. Not measured: the stage did not run.\n\n"
            + verdict_markdown(verdict_rows(run)))


def _machine(m: dict) -> str:
    hw, v = m.get("hardware", {}), m.get("versions", {})
    gpus = ", ".join(g["name"] for g in hw.get("cuda", [])) or "none"
    return (f"**Machine:** {hw.get('cpu_count')} CPU cores, {hw.get('memory_gib')} GiB RAM, GPU: {gpus}.  \n"
            f"**Versions:** eurus-kit {v.get('eurus-kit')} (commit {v.get('git_commit')}), python {v.get('python')}, "
            f"torch {v.get('torch')}, transformers {v.get('transformers')}, trl {v.get('trl')}, peft {v.get('peft')}.  \n"
            f"**Seed:** {m.get('seed')} (full config: `config.yaml`; each stage's settings digest below).")


def _timings(run: RunDir) -> str:
    """Wall time and peak memory per stage, as the manifest recorded them."""
    rows = ["| stage | status | seconds | peak RSS (GiB) | peak CUDA (GiB) | settings digest |", "|---|---|---|---|---|---|"]
    for name, rec in run.manifest.get("stages", {}).items():
        rows.append(f"| {name} | {rec.get('status')} | {rec.get('seconds', '')} | {rec.get('peak_rss_gib', '')} | "
                    f"{rec.get('peak_cuda_gib', '-')} | {rec.get('digest') or '-'} |")
    note = ("Peak RSS is this process's own resident memory during the stage; notebook kernels and "
            "sandboxed programs run in other processes and are not included.")
    return "\n".join(rows) + "\n\n" + note


def _stage_body(stage: Stage, run: RunDir) -> str:
    if not stage.is_built():
        return "**Not built yet** in this version of the kit: no results are shown for this stage."
    rec = run.stage_record(stage.name)
    if not rec:
        return f"Not run in this folder yet: `eurus-kit {stage.name} --run-dir {run.root}`."
    if rec.get("status") != "done":
        return f"**{rec.get('status')}** after {rec.get('seconds')} s: {rec.get('error', '')}"
    return stage.report_fn(run)


def _notebook_links(run: RunDir) -> str:
    pages = sorted((run.root / "notebooks").glob("*.html"))
    if not pages:
        return "## Executed notebooks\n\nNone in this folder (`eurus-kit reproduce` executes and exports them)."
    return "## Executed notebooks\n\n" + "\n".join(f"- [{p.stem}](../notebooks/{p.name})" for p in pages)


def _html(md: str) -> str:
    import mistune

    body = mistune.html(md)
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
             "img{max-width:100%}pre{background:#f6f6f6;padding:.5rem;overflow:auto}")
    return f"<!doctype html><meta charset='utf-8'><title>eurus-kit report</title><style>{style}</style>\n{body}"
