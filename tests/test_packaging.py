"""The install descriptions agree with each other and with what the Makefile and CI do."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).replace('"', "'").lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _conda_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return pip[0]["pip"]


def test_environment_yml_names_the_same_packages_and_bounds_as_pyproject():
    project = _pyproject()["project"]
    wanted = sorted(_norm(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    assert sorted(_norm(r) for r in _conda_pip()) == wanted


def test_environment_yml_python_matches_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    low = _pyproject()["project"]["requires-python"].removeprefix(">=")
    assert f">={low}" in python


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_console_script_points_at_the_cli():
    assert _pyproject()["project"]["scripts"]["eurus-kit"] == "eurus_lib.cli:main"
