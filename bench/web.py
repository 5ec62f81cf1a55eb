"""Benchmark: the sign-up page under load, on gunicorn with PostgreSQL (the production setup).

Sets up a scratch PostgreSQL database (dropped afterwards), a config and `coffeechat init`, then for each server
setting starts `gunicorn "web:create_app()"` and drives a GET+POST mix of /sign-up with wrk
(bench/web_signup.lua): every GET is a new visitor, every POST a real sign-up with the CSRF token and cookie of a
GET, from a client address of its own. Measured: requests/s, latency percentiles, errors (socket errors,
timeouts, any answer other than 200 for a GET or 303 for a POST, 5xx counted apart); checked afterwards: one
stored person and one confirmation email (.eml file) per accepted POST.

Baseline in the same run: one sync gunicorn worker under the same load.

wrk is a Debian package (`apt-get install wrk`; this script installs it when it runs as root and wrk is
missing): one C thread with epoll needs a fraction of a core for a few hundred requests a second, so nearly
all of the two cores stay with the server and PostgreSQL, where a Python load generator would take one.

Usage: python bench/web.py [--duration 20] [--connections 16] [--workers 4] [--admin-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SCRIPT = BENCH / "web_signup.lua"
SECRET = "bench-secret-key-0123456789abcdef0123456789"  # noqa: S105 - a throwaway key for a scratch database
CONFIG = """
[organisation]
name = "Bench Corp"
base_url = "http://127.0.0.1:{port}"

[database]
url = "{url}"

[mail]
backend = "file"
outbox_dir = "outbox"

[web]
trusted_proxies = 1           # wrk plays the proxy: each request's X-Forwarded-For is a client of its own
"""


@dataclass(frozen=True)
class Setting:
    """One way of serving the site."""

    label: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    """What wrk measured for one setting, and what the database and outbox show afterwards."""

    setting: Setting
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    gets: int
    posts: int
    errors: int
    server_errors: int
    people: int
    emails: int
    load: tuple[float, float, float]
    app_cpu: float  # CPU seconds during the run: gunicorn (master and workers) ...
    db_cpu: float  # ... the PostgreSQL processes serving its connections ...
    wrk_cpu: float  # ... and wrk

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * (self.app_cpu + self.db_cpu + self.wrk_cpu) / self.requests

    def ms_per_request(self, seconds: float) -> float:
        return 1000 * seconds / self.requests

    @property
    def idle_ceiling(self) -> float:
        """Requests/s the machine's cores could serve if nothing else ran: cores / CPU per request."""
        return (os.cpu_count() or 1) * 1000 / self.cpu_ms_per_request

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def ensure_wrk() -> str:
    """The path of wrk, installed with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: install it with `sudo apt-get install wrk`")
    apt = shutil.which("apt-get") or sys.exit("wrk is missing and there is no apt-get: install wrk")
    subprocess.run([apt, "update", "-qq"], check=True)  # noqa: S603 - apt-get with fixed arguments
    subprocess.run([apt, "install", "-y", "-qq", "wrk"], check=True,  # noqa: S603
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``admin_url``, dropped afterwards; yields its URL."""
    name = f"coffeechat_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def gunicorn(folder: Path, port: int, setting: Setting) -> Iterator[int]:
    """Serve the site from ``folder``'s config on ``port`` until the block ends; yields the master's pid."""
    env = {**os.environ, "COFFEECHAT_CONFIG": str(folder / "coffeechat.toml"), "COFFEECHAT_SECRET_KEY": SECRET}
    log = (folder / f"gunicorn-{port}.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn with fixed arguments
        [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}",
                               *setting.args, "web:create_app()"], env=env, stdout=subprocess.DEVNULL,
                              stderr=log, cwd=folder)
    try:
        wait_until_up(port, server)
        yield server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped at start (exit {server.returncode}); see its log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                if answer.status == 200:
                    return
        except OSError:  # not listening yet (URLError), or still starting (a timeout)
            time.sleep(0.2)
    sys.exit("gunicorn did not answer /healthz within 30 s")


def run_wrk(wrk: str, port: int, connections: int, seconds: int, prefix: str) -> dict[str, Any]:
    """One wrk run (one thread) with the sign-up script; its summary line as a dict."""
    output = subprocess.run(  # noqa: S603 - wrk with our own script and fixed arguments
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(SCRIPT),
         f"http://127.0.0.1:{port}", "--", prefix],
        check=True, capture_output=True, text=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    summary: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return summary


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_of(master: int) -> list[int]:
    """The gunicorn master and its worker processes."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == master:
                children.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return [master, *children]


def backends_of(url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the database of ``url`` (but this one)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalars())
    finally:
        engine.dispose()


def count_people(url: str, prefix: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM people WHERE email LIKE :pattern"),
                                          {"pattern": f"{prefix}-%"}).scalar_one())
    finally:
        engine.dispose()


def count_emails(outbox: Path, prefix: str) -> int:
    """Confirmation emails to this run's addresses among the .eml files the file mailer wrote."""
    parser = BytesHeaderParser()
    found = 0
    for path in outbox.glob("*.eml"):
        _, address = parseaddr(str(parser.parsebytes(path.read_bytes())["To"]))
        found += address.startswith(f"{prefix}-")
    return found


def measure(wrk: str, folder: Path, url: str, setting: Setting, port: int, args: argparse.Namespace) -> Result:
    prefix = f"m{port}"  # this run's addresses: m8731-<thread>-<n>@example.com
    with gunicorn(folder, port, setting) as master:
        run_wrk(wrk, port, args.connections, args.warmup, f"w{port}")  # imports, pools, caches
        before = os.getloadavg()
        workers, backends = workers_of(master), backends_of(url)
        app_before, db_before = sum(map(cpu_seconds, workers)), sum(map(cpu_seconds, backends))
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = run_wrk(wrk, port, args.connections, args.duration, prefix)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        app_cpu = sum(map(cpu_seconds, workers)) - app_before
        # Backends opened during the run count whole; those of the warm-up only from their reading above.
        db_cpu = sum(map(cpu_seconds, set(backends + backends_of(url)))) - db_before
        after = os.getloadavg()
    statuses = {int(status): int(n) for status, n in summary.pop("statuses").items()}
    figures = {name: int(value) for name, value in summary.items()}
    ok = statuses.get(200, 0) + statuses.get(303, 0)
    return Result(
        setting=setting, requests=figures["requests"], seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1e3, p95_ms=figures["p95_us"] / 1e3, p99_ms=figures["p99_us"] / 1e3,
        max_ms=figures["max_us"] / 1e3, gets=statuses.get(200, 0), posts=statuses.get(303, 0),
        errors=sum(statuses.values()) - ok + figures["socket_errors"] + figures["timeouts"],
        server_errors=sum(n for status, n in statuses.items() if status >= 500),
        people=count_people(url, prefix), emails=count_emails(folder / "outbox", prefix),
        load=tuple(max(a, b) for a, b in zip(before, after, strict=True)),  # type: ignore[arg-type]
        app_cpu=app_cpu, db_cpu=db_cpu,
        wrk_cpu=(wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime),
    )


def print_table(results: list[Result]) -> None:
    print("| server | requests/s | p50 ms | p95 ms | p99 ms | max ms | GET 200 | POST 303 | errors | 5xx "
          "| people stored | emails | CPU ms/request = app + PostgreSQL + wrk | idle ceiling req/s "
          "| load avg (1/5/15 min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r.setting.label} | {r.per_second:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} "
              f"| {r.max_ms:.0f} | {r.gets:,} | {r.posts:,} | {r.errors} | {r.server_errors} | {r.people:,} "
              f"| {r.emails:,} | {r.cpu_ms_per_request:.2f} = {r.ms_per_request(r.app_cpu):.2f} + "
              f"{r.ms_per_request(r.db_cpu):.2f} + {r.ms_per_request(r.wrk_cpu):.2f} | {r.idle_ceiling:,.0f} "
              f"| {' / '.join(f'{x:.2f}' for x in r.load)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of measured load per setting")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections kept by wrk")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of the measured setting")
    parser.add_argument("--gunicorn-args", default="", help="more gunicorn options for the measured setting")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-worker baseline")
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL URL allowed to create and drop databases")
    parser.add_argument("--port", type=int, default=8731)
    args = parser.parse_args()

    if not (BIN / "gunicorn").exists():
        sys.exit(f"gunicorn is not installed beside {sys.executable}: pip install -e '.[server]' (make bench does)")
    wrk = ensure_wrk()
    extra = tuple(args.gunicorn_args.split())
    settings = [Setting(f"gunicorn, {args.workers} workers {' '.join(extra) or 'sync'}".strip(),
                        ("-w", str(args.workers), *extra))]
    if not args.no_baseline:
        settings.insert(0, Setting("baseline: gunicorn, 1 sync worker", ("-w", "1")))
    with scratch_database(args.admin_url) as url, tempfile.TemporaryDirectory(prefix="coffeechat-bench-") as tmp:
        folder = Path(tmp)
        (folder / "coffeechat.toml").write_text(CONFIG.format(port=args.port, url=url), encoding="utf-8")
        subprocess.run([str(BIN / "coffeechat"), "--config", str(folder / "coffeechat.toml"), "init"],  # noqa: S603
                       check=True, capture_output=True)
        results = [measure(wrk, folder, url, setting, args.port + n, args) for n, setting in enumerate(settings)]
    print(f"{os.cpu_count()} cores; wrk -t1 -c{args.connections} -d{args.duration}s (after {args.warmup} s of "
          "warm-up); GET+POST /sign-up; PostgreSQL")
    print_table(results)
    # A POST still in flight when wrk stops is stored without its answer being counted: at most one per
    # connection.
    failed = [r for r in results if r.errors or r.emails != r.people
              or not r.posts <= r.people <= r.posts + args.connections]
    if failed:
        sys.exit(f"check failed for: {', '.join(r.setting.label for r in failed)} (an error, or POSTs answered "
                 "303 without as many stored people and emails)")


if __name__ == "__main__":
    main()
