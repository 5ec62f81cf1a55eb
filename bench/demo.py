"""The whole process a user runs, `coffeechat demo --size N`, timed against a baseline commit in the same run.

    .venv/bin/python bench/demo.py --size 1000 --runs 3 --baseline 8a167f3

The baseline is checked out once into a git worktree (``--worktree``, default under /tmp) and run from there
with ``PYTHONPATH`` pointing at it, on this checkout's virtualenv: the same interpreter and packages, only the
project's code differs. The two run in turn (baseline, current, baseline, current, ...), each in a fresh
folder, so a machine whose speed drifts slows both alike; the ratio current/baseline is taken pair by pair.
Wall time is measured around the child process, peak memory is the child's own maximum resident set size
(``os.wait4``). Prints min / median / max of each, and of the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = "from scheduler.entrypoints.cli import main; main()"


def worktree(revision: str, where: Path) -> Path:
    """A checkout of ``revision`` at ``where`` (made once, reused while it is at that revision)."""
    # git from the PATH, with our own arguments: the revision is passed as one argument, never to a shell.
    if not (where / ".git").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(where),  # noqa: S603, S607
                        revision], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(where), "checkout", "--detach", "--quiet", revision],  # noqa: S603, S607
                   check=True)
    return where


def run_once(code: Path, size: int) -> tuple[float, float]:
    """Run the demo of the code at ``code`` once in a fresh folder; (wall seconds, peak MiB)."""
    folder = Path(tempfile.mkdtemp(prefix="coffeechat-demo-"))
    try:
        environment = {**os.environ, "PYTHONPATH": str(code)}
        started = time.perf_counter()
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-c", DEMO, "demo", "--dir", str(folder / "demo"), "--size", str(size)],
            cwd=code, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"the demo of {code} failed ({child.returncode}):\n{errors.decode(errors='replace')}")
        return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="people in the demo organisation (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, in turn (default 3)")
    parser.add_argument("--baseline", required=True, help="the commit to compare against")
    parser.add_argument("--worktree", type=Path, default=Path(tempfile.gettempdir()) / "coffeechat-baseline",
                        help="where the baseline is checked out")
    options = parser.parse_args()
    baseline = worktree(options.baseline, options.worktree)
    results: dict[str, list[tuple[float, float]]] = {"baseline": [], "current": []}
    for turn in range(options.runs):
        for name, code in (("baseline", baseline), ("current", ROOT)):
            results[name].append(run_once(code, options.size))
            print(f"run {turn + 1} {name}: {results[name][-1][0]:.1f} s", file=sys.stderr)
    print(f"coffeechat demo --size {options.size}, {options.runs} runs each in turn; baseline {options.baseline}")
    print("| | wall s (min / median / max) | peak MiB (min / median / max) |")
    print("|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {spread([s for s, _ in rows])} | {spread([m for _, m in rows])} |")
    ratios = [c[0] / b[0] for b, c in zip(results["baseline"], results["current"], strict=True)]
    print(f"| current / baseline, pair by pair | {spread(ratios)} | |")


if __name__ == "__main__":
    main()
