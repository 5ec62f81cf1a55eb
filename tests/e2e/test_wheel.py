"""The package as a user installs it: the wheel built from this checkout, installed in a fresh virtual
environment, runs ``coffeechat demo`` in an empty folder. This is what proves the package data (templates,
migrations) is declared: an editable install reads them from the checkout whatever pyproject.toml says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600,  # noqa: S603
                          check=False)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.slow
def test_the_built_wheel_installs_and_runs_the_demo_in_an_empty_folder(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp_path / "dist", ROOT,
        cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("coffeechat-*.whl")
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()

    where = run(python, "-c", "import scheduler, web; print(scheduler.__file__); print(web.__file__)", cwd=empty)
    output = run(tmp_path / "venv" / "bin" / "coffeechat", "demo", "--size", "24", cwd=empty)

    assert all(str(tmp_path / "venv") in line for line in where.split()), where  # not the checkout
    assert "delivery:" in output
    assert list((empty / "demo" / "outbox").glob("*.eml"))
    assert (empty / "demo" / "coffeechat.db").is_file()
