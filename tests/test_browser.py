"""The tree explorer widget renders and responds in a real browser, inside JupyterLab.

Headless execution (nbclient) proves a notebook's code runs; it cannot show that a widget
renders. This test starts JupyterLab on 127.0.0.1, opens a notebook in Chromium (driven by
Playwright), runs the cell that builds the explorer over three trees from a real tiny run, and
checks what a user would see: the action cards of turn 1, then turn 2 after moving the slider.
Needs Debian's Chromium at /usr/bin/chromium (`.ci/run` installs it); skipped without it.
"""

from __future__ import annotations

import json
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


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free loopback port, serving tmp_path; yields its base URL."""
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": CELL, "outputs": [], "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "explorer.ipynb").write_text(json.dumps(nb))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                             f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=", "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
