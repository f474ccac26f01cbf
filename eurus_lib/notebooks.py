"""Execute the course notebooks headless and export them as HTML.

    execute_notebook("notebooks/00_start_here.ipynb", run_dir="runs/tiny", html="runs/tiny/notebooks/00.html")

The notebooks read `EURUS_KIT_PRESET` and `EURUS_KIT_RUN_DIR` from the environment (see
`notebook_context`), so the tests and `reproduce` point them at a preset and a run folder
without editing them. Notebooks stay without outputs in git; executed copies go to run folders.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import KitError

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
ENV_PRESET = "EURUS_KIT_PRESET"
ENV_RUN_DIR = "EURUS_KIT_RUN_DIR"


def notebook_context(default_run_dir: str = "runs/notebooks") -> tuple[str, Path]:
    """(preset, run folder) for a notebook: from the environment, else tiny and a scratch folder."""
    preset = os.environ.get(ENV_PRESET, "tiny")
    return preset, Path(os.environ.get(ENV_RUN_DIR, default_run_dir)).resolve()


def open_notebook_run(default_run_dir: str = "runs/notebooks"):
    """(cfg, run) for a notebook: the run folder's recorded config when it has one, else the preset's.

    So a notebook executed by `reproduce` sees the same overrides as the stages did.
    """
    from .config import load_config
    from .runs import RunDir

    preset, run_dir = notebook_context(default_run_dir)
    if (run_dir / "config.yaml").is_file():
        run = RunDir.existing(run_dir)
        return run.cfg, run
    cfg = load_config(preset)
    return cfg, RunDir.open(run_dir, cfg)


def execute_notebook(path: str | Path, *, run_dir: str | Path, preset: str = "tiny",
                     html: str | Path | None = None, timeout_s: int = 1200):
    """Run every cell of a notebook in a fresh kernel; raise KitError naming the failing cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env = {ENV_PRESET: preset, ENV_RUN_DIR: str(Path(run_dir).resolve()), "TQDM_MININTERVAL": "5"}
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client.execute()
    except CellExecutionError as exc:
        raise KitError(f"{path.name} failed: {str(exc).strip().splitlines()[-1][:400]}") from exc
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nb.metadata["eurus_kit"] = {"seconds": round(time.perf_counter() - t0, 1), "preset": preset}
    if html is not None:
        export_html(nb, html)
    return nb


def export_html(nb, html: str | Path) -> Path:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    html = Path(html)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(body)
    return html


def course_notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
