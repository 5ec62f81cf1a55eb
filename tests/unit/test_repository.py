"""The repository itself: no large files outside the test data (issue 14: 18.6 MB of wheels were committed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1024 * 1024  # 1 MB
ALLOWED = ("tests/data/",)


def tracked_files() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    return [name for name in listing.stdout.decode().split("\0") if name]


def test_no_tracked_file_over_1_mb_outside_tests_data() -> None:
    too_big = [(name, (ROOT / name).stat().st_size) for name in tracked_files()
               if not name.startswith(ALLOWED) and (ROOT / name).is_file() and (ROOT / name).stat().st_size > LIMIT]
    assert too_big == [], f"tracked files over 1 MB outside tests/data: {too_big}"
