"""The layers hold: import-linter's contracts (``[tool.importlinter]`` in pyproject.toml) pass,
``manifests`` stays pure, and a forbidden import is caught (so the check can fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("manifests", "registry", "trainer", "api", "cli")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True
    )


def test_import_contracts_are_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_importing_manifests_loads_neither_torch_nor_sqlalchemy() -> None:
    code = (
        "import pkgutil, importlib, sys, manifests\n"
        "for m in pkgutil.walk_packages(manifests.__path__, 'manifests.'):\n"
        "    importlib.import_module(m.name)\n"
        "heavy = sorted({'torch', 'sqlalchemy', 'safetensors', 'duckdb', 'fastapi'} & set(sys.modules))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


@pytest.fixture()
def tree_copy(tmp_path: Path) -> Path:
    """The packages and pyproject.toml, copied so a test can break them."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("manifests/merkle.py", "import sqlalchemy", "manifests is the pure core"),
        ("manifests/canonical.py", "import registry.errors", "manifests is the pure core"),
        ("registry/audit.py", "import cli.common", "registry serves every presentation layer"),
        ("registry/auth.py", "import torch", "registry serves every presentation layer"),
        ("api/deps.py", "from registry.db.models import Shard", "never an ORM model"),
        ("cli/audit.py", "import registry.db.models", "never an ORM model"),
        ("trainer/reader.py", "import api.app", "the trainer talks to the registry"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tree_copy: Path, module: str, line: str, contract: str
) -> None:
    path = tree_copy / module
    text = path.read_text()
    # after the module docstring and `from __future__`, where an import would really go
    anchor = "from __future__ import annotations\n"
    head, sep, tail = text.partition(anchor)
    path.write_text(head + sep + line + "\n" + tail if sep else line + "\n" + text)
    result = _lint(tree_copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
