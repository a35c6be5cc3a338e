"""The built wheel works on its own: installed into a fresh virtual environment (not editable,
not from this checkout), ``provreg init`` finds its migrations and ``provreg licence list``
reads the seeded licences."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "alembic",
    "manifests",
    "registry",
    "trainer",
    "api",
    "cli",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (setuptools writes build/ where it builds)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "--disable-pip-version-check", "-w", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (found,) = out.glob("provreg-*.whl")
    return found


def test_the_wheel_carries_the_migrations_and_the_licences(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "registry/db/migrations/env.py" in names
    assert "registry/db/migrations/script.py.mako" in names
    assert "registry/db/migrations/versions/0001_initial_schema.py" in names
    assert "registry/data/licences.json" in names
    assert "cli/main.py" in names
    assert not any(n.startswith(("tests/", "bench/", "alembic/")) for n in names)


def test_an_installed_wheel_inits_a_registry_and_lists_licences(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # The dependencies come from this environment's site-packages, added as a plain path: its
    # .pth files (this checkout's editable install among them) are not run.
    site = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVREG_", "PYTHON"))}
    env["PROVREG_DATABASE_URL"] = f"sqlite:///{work / 'registry.db'}"
    provreg = str(env_dir / "bin" / "provreg")

    where = subprocess.run(
        [str(py), "-c", "import registry.db.migrate as m; print(m.__file__, m.migrations_dir())"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(site) in where and str(ROOT) not in where, where

    init = subprocess.run([provreg, "init"], cwd=work, env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    assert "schema created" in init.stdout and "licences added" in init.stdout
    listed = subprocess.run(
        [provreg, "licence", "list", "--json"], cwd=work, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert '"spdx_id": "CC-BY-NC-4.0"' in listed.stdout
    version = subprocess.run(
        [provreg, "--version"], cwd=work, env=env, capture_output=True, text=True
    )
    assert version.stdout.strip() == f"provreg {_version()}"


def _version() -> str:
    from importlib.metadata import version

    return version("provreg")
