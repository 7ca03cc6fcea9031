"""The shape the project keeps: short functions, bounded complexity, one layering.

Functions outside plotting code stay within 60 lines, and ``ruff`` (with the McCabe complexity rule at 12,
configured in pyproject.toml) is clean, so a long branchy function is refused here rather than in review.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aimc", "theory", "montecarlo", "validation", "figures", "benchmarks")
MAX_LINES = 60


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _plotting(path: Path, name: str) -> bool:
    """Drawing code in the figure modules (a panel is a long list of calls, not logic)."""
    return path.parts[-2] == "figures" and (name.startswith(("plot", "_plot", "_draw")) or "panel" in name)


def test_no_function_is_longer_than_sixty_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in _functions(path)
        if node.end_lineno - node.lineno + 1 > MAX_LINES and not _plotting(path, node.name)
    ]
    assert not long, "functions longer than 60 lines: " + "; ".join(long)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed (a test dependency)")
def test_ruff_is_clean_with_the_complexity_rule():
    result = subprocess.run([shutil.which("ruff"), "check", "--no-cache", str(ROOT)], check=False,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_every_package_is_installed():
    """A subpackage missing from pyproject's list works in the editable checkout and is absent from an
    installed copy: every folder with an __init__.py under the package folders must be listed."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {name: ROOT / path for name, path in config["package-dir"].items()}
    found = set()
    for name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((name, *parts)))
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
