"""The course's widgets render and respond in a real browser, inside JupyterLab.

Headless execution (nbclient) proves a notebook's code runs; it cannot show that a widget
renders. These tests start JupyterLab on 127.0.0.1 and drive Chromium with Playwright:

- the tree explorer over three trees from a real tiny run: the action cards of turn 1, then
  turn 2 after moving the slider;
- notebook 03 run top to bottom on an empty run folder (shipped sample pairs, the base model,
  `EURUS_KIT_DEMO_STEPS=2` so each preference run is two optimizer steps): in its panel, change
  β, press Run, and watch the reward figure redrawn after each step, with no error in any cell;
  a screenshot is saved in the test's tmp folder and its path is printed and recorded;
- notebooks 04, 05 and 06, each run top to bottom the same way (`_course_notebook`) with no cell
  showing an error: in 04's reward panel, switch the objective to DR, press Run and watch the
  reward distributions redrawn after each step; in 05, move the best-of-N slider and see the
  table of picks and the figure follow; in 06, an empty run folder shows the shipped real run
  (`data/samples/results/`) and says so, renders the verdict tables, and its claim dropdown shows
  another claim's evidence.

Needs Debian's Chromium at /usr/bin/chromium (`.ci/run` installs it); skipped without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium (apt-get install chromium)"),
]
CELL = f"""from eurus_lib.trees.explorer import tree_explorer
from eurus_lib.trees.store import TreeStore
trees = TreeStore({str(ROOT / "data" / "fixtures" / "trees_sample.jsonl")!r}).load()
tree_explorer(trees)"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _jupyterlab(root: Path, env: dict | None = None):
    """A JupyterLab server on a free loopback port, serving root; yields its base URL. Kernels inherit env."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                             f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/lab", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving tmp_path, with a one-cell notebook that builds the tree explorer."""
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": CELL, "outputs": [], "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "explorer.ipynb").write_text(json.dumps(nb))
    with _jupyterlab(tmp_path) as url:
        yield url


def _wait_for(url: str, proc, timeout_s: float = 90) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url}")


def _wait_for_kernel(base_url: str, timeout_s: float = 90) -> None:
    """Until the notebook's kernel is idle with the page connected (the status bar says idle sooner)."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        with urllib.request.urlopen(f"{base_url}/api/kernels", timeout=5) as r:
            kernels = json.loads(r.read())
        if any(k.get("execution_state") == "idle" and k.get("connections", 0) >= 1 for k in kernels):
            return
        time.sleep(0.5)
    raise TimeoutError("the notebook's kernel never became ready")


def _run_first_cell(page, screenshot: Path) -> None:
    """Select the first cell and run it in place (Ctrl+Enter); again if the page ignored the keys."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").first
    prompt = cell.locator(".jp-InputArea-prompt")
    for _ in range(3):
        cell.locator(".jp-InputPrompt").click()
        page.keyboard.press("Control+Enter")
        try:
            expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=15_000)  # running or ran
            return
        except AssertionError:
            continue
    raise AssertionError("the cell never started running")


def test_tree_explorer_renders_and_steps_through_turns_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab}/lab/tree/explorer.ipynb")
            status = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            expect(status).to_have_count(1, timeout=90_000)  # the kernel has started and is idle
            _wait_for_kernel(lab)
            _run_first_cell(page, tmp_path / "not_running.png")
            output = page.locator(".jp-OutputArea-output")
            expect(output.locator(".widget-dropdown select")).to_have_count(1, timeout=90_000)
            expect(output).to_contain_text("turn 1 of 3")
            expect(output).to_contain_text("✓ correct")
            expect(output).to_contain_text("✗ incorrect")
            expect(output).to_contain_text("chosen")
            expect(output).to_contain_text("rejected")
            page.locator(".widget-slider .noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            expect(output).to_contain_text("turn 2 of 3", timeout=30_000)
            page.screenshot(path=str(tmp_path / "explorer.png"))
        finally:
            browser.close()


# Records every new src of the panel's figure (an <img> whose src is replaced on each redraw).
WATCH_FIGURE = """() => {
  window.__figureSrcs = [];
  const img = document.querySelector('.jp-OutputArea-output img.widget-image');
  new MutationObserver(() => window.__figureSrcs.push(img.src)).observe(img, {attributes: true, attributeFilter: ['src']});
  return img.src;
}"""


def _run_all_cells(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _saved_errors(page, path: Path) -> list[str]:
    """Save the notebook from the page and list the error outputs of its cells (ename: evalue)."""
    page.keyboard.press("Control+s")
    time.sleep(2)
    nb = json.loads(path.read_text())
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


COURSE_ENV = {"EURUS_KIT_PRESET": "tiny", "EURUS_KIT_DEMO_STEPS": "2", "EURUS_KIT_DEMO_TREES": "3",
              "TQDM_MININTERVAL": "5"}
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]


@contextlib.contextmanager
def _course_notebook(name: str, tmp_path: Path, timeout_ms: int = 900_000):
    """(page, saved notebook path): a copy of notebooks/<name> opened in JupyterLab and run top to bottom.

    The kernel works in an empty run folder with `EURUS_KIT_DEMO_STEPS=2`; no cell may show an error.
    """
    from playwright.sync_api import expect, sync_playwright

    shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    with _jupyterlab(tmp_path, {**COURSE_ENV, "EURUS_KIT_RUN_DIR": str(tmp_path / "run")}) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/{name}")
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=90_000)
            _wait_for_kernel(url)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            _run_all_cells(page)
            last_prompt = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").last
            expect(last_prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout_ms)  # the whole notebook ran
            assert not _saved_errors(page, tmp_path / name)
            yield page, tmp_path / name
        finally:
            browser.close()


def _run_and_watch_redraws(page, panel, status, finished: list[str], saved: Path, shot: Path, record_property) -> Path:
    """Press the panel's Run; the status line ends with every text of `finished`, the figure was redrawn
    after each step, no widget or cell shows an error; a screenshot of the panel is saved and recorded."""
    from playwright.sync_api import expect

    before = page.evaluate(WATCH_FIGURE)
    panel.locator("button.jupyter-button", has_text="Run").click()
    expect(status).to_contain_text(finished[0], timeout=600_000)
    for text in finished[1:]:
        expect(status).to_contain_text(text)
    srcs = page.evaluate("() => window.__figureSrcs")
    assert len(set(srcs) - {before}) >= 2, f"the figure was redrawn {len(set(srcs))} times, not after each step"
    expect(panel.locator(".widget-html-content", has_text="Error")).to_have_count(0)
    assert not _saved_errors(page, saved)
    panel.screenshot(path=str(shot))
    record_property("screenshot", str(shot))
    return shot


def test_preference_panel_trains_with_a_new_beta_and_redraws_live_in_jupyterlab(tmp_path, record_property):
    from playwright.sync_api import expect

    with _course_notebook("03_preference_learning.ipynb", tmp_path, timeout_ms=1_500_000) as (page, saved):
        panel = page.locator(".jp-OutputArea-output", has=page.locator("button.jupyter-button", has_text="Run"))
        status = panel.locator(".widget-html-content").last
        expect(status).to_contain_text("DPO β=0.1", timeout=30_000)  # the default run, done while running all
        beta = panel.locator(".widget-text", has=page.locator("label", has_text=re.compile(r"^beta$"))).locator("input")
        beta.fill("0.3")
        beta.press("Tab")
        expect(panel).to_contain_text("prefs.beta = 0.3", timeout=30_000)  # accepted by config.set_value
        # the run finished with the new β
        shot = _run_and_watch_redraws(page, panel, status, ["DPO β=0.3 lr=", "2 steps in", "step 2/2"], saved,
                                      tmp_path / "preference_panel.png", record_property)
        print(f"screenshot of the preference panel: {shot}")


def test_reward_panel_trains_another_objective_and_redraws_the_distributions_in_jupyterlab(tmp_path, record_property):
    from playwright.sync_api import expect

    with _course_notebook("04_reward_model.ipynb", tmp_path) as (page, saved):
        panel = page.locator(".jp-OutputArea-output", has=page.locator("button.jupyter-button", has_text="Run"))
        status = panel.locator(".widget-html-content").last
        expect(status).to_contain_text("BT+DR lr=", timeout=30_000)  # the default run, done while running all
        panel.locator(".widget-dropdown select").select_option("dr")
        # the run finished as dr
        _run_and_watch_redraws(page, panel, status, ["DR lr=0.001: 2 steps in", "step 2/2"], saved,
                               tmp_path / "reward_panel.png", record_property)


def test_best_of_n_slider_redraws_the_curves_and_the_picks_in_jupyterlab(tmp_path):
    from playwright.sync_api import expect

    with _course_notebook("05_evaluation.ipynb", tmp_path) as (page, saved):
        output = page.locator(".jp-OutputArea-output", has=page.locator(".widget-slider"))
        expect(output).to_contain_text("pick at N=", timeout=30_000)  # the largest N of the curve shown
        largest = int(re.search(r"pick at N=(\d+)", output.inner_text()).group(1))
        before = page.evaluate("() => document.querySelector('.jp-OutputArea-output img.widget-image').src")
        output.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowLeft")
        expect(output).to_contain_text(f"pick at N={largest // 2}", timeout=30_000)  # N runs over powers of 2
        after = page.evaluate("() => document.querySelector('.jp-OutputArea-output img.widget-image').src")
        assert after != before  # the curves were redrawn with the new N marked
        assert not _saved_errors(page, saved)


def test_reproduce_notebook_shows_the_shipped_run_where_the_folder_measured_nothing_and_explores_a_claim(tmp_path):
    from playwright.sync_api import expect

    with _course_notebook("06_reproduce_the_paper.ipynb", tmp_path) as (page, saved):
        notebook = page.locator(".jp-Notebook")
        # An empty run folder: each section shows the shipped real run (data/samples/results) and says so.
        expect(notebook).to_contain_text("the rm stage has not run in", timeout=30_000)
        expect(notebook).to_contain_text("DPO's chosen reward falls below 0")  # the verdict table rendered
        expect(notebook).to_contain_text("The shipped real tiny run")  # its verdicts, for what this folder lacks
        explorer = page.locator(".jp-OutputArea-output", has=page.locator(".widget-dropdown select"))
        expect(explorer).to_contain_text("Evidence: Table 1: the preference trees")
        explorer.locator(".widget-dropdown select").select_option(index=6)  # reranking with Eurus-RM
        expect(explorer).to_contain_text("Evidence: Figure 4 / Table 9: best-of-N reranking", timeout=30_000)
        expect(explorer).to_contain_text("the eval stage has not run in")
        assert not _saved_errors(page, saved)
