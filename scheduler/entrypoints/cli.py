"""The ``coffeechat`` command. Each command loads the config, bootstraps, calls one service and reports.

Errors become exit codes in one place (``main``): a user mistake prints one clear line, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from scheduler.admin.participants import import_people
from scheduler.config import CONFIG_ENV, Config, describe_config, find_config_path, load_config
from scheduler.delivery.outbox import DeliveryReport
from scheduler.entrypoints.bootstrap import Services, bootstrap
from scheduler.errors import CoffeeChatError, ConfigError, InputError, NotFoundError, ProviderUnavailable
from scheduler.periodic import tick
from scheduler.planning.meetings import MeetingChange
from scheduler.planning.run import CycleOutcome, run_cycle

# Off a terminal (cron, CI, a pipe) rich would wrap tables at 80 columns; plain logs can be wider.
# markup=False: names, reasons and CSV errors are user data; "[/x]" in a name must print as it is, not crash.
console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)


class TickIncomplete(CoffeeChatError):
    """``tick`` did everything else, but at least one program could not be planned."""


class Context:
    """What every command shares: the --config option, loaded on first use."""

    def __init__(self, config_path: str | None, *, from_env: bool = False) -> None:
        self.config_path = config_path
        self.from_env = from_env
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        """The loaded, validated config."""
        if self._config is None:
            try:
                path = find_config_path(self.config_path)
            except ConfigError as error:
                if not self.from_env:
                    raise
                # Say where the path came from: a forgotten variable in a cron job or unit file is hard to spot.
                raise ConfigError(f"no config file here (named by ${CONFIG_ENV})", path=error.path) from None
            self._config = load_config(path)
        return self._config

    @contextmanager
    def services(self, *, check_schema: bool = True) -> Iterator[Services]:
        """Bootstrapped services for the duration of one command."""
        if check_schema:
            from scheduler.storage.migrate import check_schema as check

            check(self.config.database_url)
        services = wire(self.config)
        try:
            yield services
        finally:
            services.dispose()


def wire(config: Config) -> Services:
    """The services of ``config``, with the web site's addresses, so the emails a command plans link to its
    pages. The web is imported here rather than at the top, so commands that wire nothing (``busy``,
    ``config check``) never load Flask."""
    from web.urls import WebUrls

    return bootstrap(config, site=WebUrls.from_config(config))


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", metavar="PATH", envvar="COFFEECHAT_CONFIG",
              help="Config file (default: $COFFEECHAT_CONFIG, else ./coffeechat.toml).")
@click.version_option(package_name="coffeechat")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Coffee Chat: pair colleagues across teams and book the meeting in their calendars.

    \b
    Example:
      coffeechat demo                      # a whole cycle on a generated organisation
      coffeechat --config prod.toml tick   # from cron, every few minutes
    """
    from_env = ctx.get_parameter_source("config_path") is click.core.ParameterSource.ENVIRONMENT
    ctx.obj = Context(config_path, from_env=from_env)


@cli.command()
@pass_context
def init(ctx: Context) -> None:
    """Create the database, or upgrade it to this version's schema.

    \b
    Example:
      coffeechat --config coffeechat.toml init
    """
    from scheduler.config import mask_url
    from scheduler.storage.migrate import upgrade_database

    revision = upgrade_database(ctx.config.database_url)
    console.print(f"database {mask_url(ctx.config.database_url)} is at revision {revision}")


@cli.group("config")
def config_group() -> None:
    """Inspect configuration.

    \b
    Example:
      coffeechat --config coffeechat.toml config check
    """


@config_group.command("check")
@pass_context
def config_check(ctx: Context) -> None:
    """Validate the config file and say what it would connect to (secrets shown only as set / not set).

    \b
    Example:
      coffeechat --config coffeechat.toml config check
    """
    from scheduler.entrypoints.bootstrap import check_calendars

    for line in describe_config(ctx.config):
        console.print(line)
    check_calendars(ctx.config)  # a CalDAV login with no servers to keep it to, a Google key not set
    console.print("config OK")


@cli.command("import-people")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def import_people_command(ctx: Context, csv_file: Path) -> None:
    """Create or update people from a CSV file (columns: see the README). Bad rows are reported by line number;
    the good rows are imported. Exits 2 when any row was bad.

    \b
    Example:
      coffeechat import-people people.csv
    """
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(csv_file)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", where=str(csv_file)) from exc
    with ctx.services() as services:
        report = import_people(services.uow_factory, text, source=str(csv_file), clock=services.clock)
    for error in report.errors:
        console.print(Text("skipped", style="red"), str(error))
    console.print(f"imported {report.created + report.updated} people ({report.created} new, {report.updated} "
                  f"updated), {len(report.errors)} rows skipped")
    if report.errors:
        raise SystemExit(InputError.exit_code)


@cli.command("run-cycle")
@click.option("--program", "program_name", metavar="NAME", help="Program to plan (default: the first).")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing, send nothing.")
@click.option("--seed", type=int, help="Random seed (default: derived from program and window).")
@pass_context
def run_cycle_command(ctx: Context, program_name: str | None, dry_run: bool, seed: int | None) -> None:
    """Plan the next cycle of a program and deliver its invites and emails.

    \b
    Example:
      coffeechat run-cycle --program coffee --dry-run
    """
    with ctx.services() as services, progress_reporter() as progress:
        try:
            program = services.program(program_name)
        except NotFoundError as error:  # a mistyped command-line value: the caller's input, exit code 2
            raise InputError(str(error), where="--program") from error
        outcome = run_cycle(services.uow_factory, services.calendar, services.clock, program, services.settings,
                            dry_run=dry_run, seed=seed, progress=progress)
        print_outcome(services, outcome)
        if not dry_run:
            deliver_now(services, progress)


@cli.command("pair")
@click.argument("instance_file", metavar="INSTANCE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result JSON here (default: the JSON on stdout, a summary on stderr).")
def pair_command(instance_file: Path, output: Path | None) -> None:
    """Pair the people of an instance file offline, for what-if planning and benchmarks. No config or
    database is needed. The format is in docs/pairing-instance.md. Exits 2 naming the place of bad input.

    \b
    Example:
      coffeechat pair org.json -o plan.json
    """
    import json

    from scheduler.planning.instance import load_instance, solve_instance

    try:
        data = json.loads(instance_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(instance_file)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", where=str(instance_file)) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", where=f"{instance_file}, line {exc.lineno}") from exc
    result = solve_instance(load_instance(data, source=str(instance_file)))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    stats = result["stats"]
    summary = (f"{stats['people']} people: {stats['groups']} groups, {len(result['unmatched'])} unmatched, "
               f"score {stats['score']:g} ({100 * (1 - stats['gap']):.2f}% of the bound {stats['upper_bound']:g})"
               f" in {stats['seconds']:.2f} s")
    if output is None:
        click.echo(summary, err=True)  # stdout stays pure JSON, ready for a pipe
        click.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", where=str(output)) from exc
    console.print(f"{summary}; result in {output}")


@cli.command()
@pass_context
def deliver(ctx: Context) -> None:
    """Perform the due outbox effects (emails, invites), retrying failures on their schedule.

    When a service refuses Coffee Chat itself (the mail server rejects the login), its effects stay pending,
    one line says what to fix, and the command exits 4; the next run sends them once it is fixed.

    \b
    Example:
      coffeechat deliver
    """
    with ctx.services() as services, progress_reporter() as progress:
        report = deliver_now(services, progress)
    if report.alerts:
        # The alert is printed already; the exit code lets cron and systemd see the failed run.
        raise SystemExit(ProviderUnavailable.exit_code)


@cli.command("tick")
@pass_context
def tick_command(ctx: Context) -> None:
    """Do whatever is due: plan cycles whose cadence has come round, deliver due emails and invites.
    Safe to run every few minutes from cron or a systemd timer.

    \b
    Example (crontab):
      */5 * * * *  coffeechat --config /etc/coffeechat.toml tick
    """
    with ctx.services() as services, progress_reporter() as progress:
        mailer = services.mailer_factory()
        try:
            report = tick(services.uow_factory, services.calendar, services.clock, services.programs(),
                          services.settings, services.performers(mailer), services.retry_policy,
                          batch_size=ctx.config.delivery.batch_size, progress=progress)
        finally:
            mailer.close()
        for outcome in report.cycles:
            print_outcome(services, outcome, details=False)
        for failure in report.failures:
            console.print(Text("not planned", style="red"), f"program {failure.program}: {failure.reason}")
        print_delivery(report.delivery)
    if report.failures:
        # After delivery, not instead of it: cron and systemd see a failed run, and nothing else waited.
        raise TickIncomplete(f"{len(report.failures)} of the programs could not be planned (see above); "
                             "everything else was done")
    if report.delivery.alerts:
        raise ProviderUnavailable("delivery paused (see above); the effects wait for the next pass")


EFFECT_STATES = ("pending", "in_flight", "done", "dead", "superseded")


@cli.group("outbox", invoke_without_command=True)
@click.option("--state", type=click.Choice(EFFECT_STATES), help="Only effects in this state.")
@click.option("--cycle", "cycle_id", type=int, metavar="N", help="Only effects of cycle N.")
@click.pass_context
def outbox_group(click_ctx: click.Context, state: str | None, cycle_id: int | None) -> None:
    """List outbox effects (emails, provider events) with their state, attempts and last error.

    \b
    Example:
      coffeechat outbox --state dead
      coffeechat outbox requeue 'cycle-3/meeting-12/seq-0/announce/ana@example.com'
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from scheduler.delivery.dead_letters import list_effects

    ctx: Context = click_ctx.obj
    with ctx.services() as services:
        effects = list_effects(services.uow_factory, state=state, cycle_id=cycle_id)
    table = Table(title=f"outbox: {len(effects)} effects")
    for column in ("key", "kind", "state", "attempts", "next attempt (UTC)", "last error"):
        table.add_column(column, overflow="fold")
    for effect in effects:
        next_attempt = (effect.next_attempt_at.strftime("%Y-%m-%d %H:%M")
                        if effect.next_attempt_at and effect.state == "pending" else "")
        table.add_row(effect.key, effect.kind, effect.state, str(effect.attempts), next_attempt, effect.last_error)
    console.print(table)


@outbox_group.command("requeue")
@click.argument("key")
@pass_context
def outbox_requeue(ctx: Context, key: str) -> None:
    """Give a dead effect (KEY as `coffeechat outbox` lists it) another round of attempts, starting now.

    \b
    Example:
      coffeechat outbox requeue 'cycle-3/meeting-12/seq-0/announce/ana@example.com'
    """
    from scheduler.delivery.dead_letters import requeue_effect

    with ctx.services() as services:
        requeue_effect(services.uow_factory, services.clock, key)
    console.print(f"requeued {key}: `coffeechat deliver` (or the next tick) sends it")


@cli.group("meeting")
def meeting_group() -> None:
    """Cancel or move a planned meeting; everyone in it is told (and their calendars updated).

    \b
    Example:
      coffeechat meeting cancel 12 --reason "Ana is on sick leave"
    """


@meeting_group.command("cancel")
@click.argument("meeting_id", type=int)
@click.option("--reason", default="", help="Why, in a sentence the members will read.")
@pass_context
def meeting_cancel(ctx: Context, meeting_id: int, reason: str) -> None:
    """Cancel meeting MEETING_ID: its members get a cancellation (removing the calendar event) and no
    reminder or feedback request.

    \b
    Example:
      coffeechat meeting cancel 12 --reason "Ana is on sick leave"
    """
    from scheduler.planning.meetings import cancel_meeting

    with ctx.services() as services:
        change = cancel_meeting(services.uow_factory, services.clock, services.settings, meeting_id, reason)
        print_change(change, "cancelled")
        deliver_now(services, None)


@meeting_group.command("reschedule")
@click.argument("meeting_id", type=int)
@click.option("--start", required=True, metavar="ISO", help="New start, e.g. 2026-11-25T14:00 (naive: read in --tz).")
@click.option("--tz", "zone", default="UTC", show_default=True, metavar="ZONE", help="Zone of a naive --start.")
@click.option("--force", is_flag=True,
              help="Move it even when a member is busy then or it is outside their working hours.")
@pass_context
def meeting_reschedule(ctx: Context, meeting_id: int, start: str, zone: str, force: bool) -> None:
    """Move meeting MEETING_ID to a new start (same length): its members get the updated invite, and the
    reminder and feedback request move with it.

    Every member's calendar is read first, as a cycle reads it, and the move is refused (exit 2), naming the
    conflict, when one of them is busy then, has another Coffee Chat meeting, or would be outside their working
    hours or on their office's holiday; --force moves it anyway. A calendar that cannot be read is a warning.

    \b
    Example:
      coffeechat meeting reschedule 12 --start 2026-11-25T14:00 --tz Europe/London
    """
    from scheduler.planning.meetings import SlotConflict, reschedule_meeting, slot_starting

    moment = parse_moment(start, zone, "--start")
    with ctx.services() as services:
        slot = slot_starting(services.uow_factory, meeting_id, moment)
        try:
            change = reschedule_meeting(services.uow_factory, services.clock, services.settings, meeting_id, slot,
                                        provider=services.calendar, force=force)
        except SlotConflict as conflict:
            for warning in conflict.warnings:
                click.echo(f"warning: {warning}", err=True)
            raise InputError(f"{conflict}; --force moves it anyway") from None
        for warning in change.warnings:
            click.echo(f"warning: {warning}", err=True)
        for overridden in change.overridden:
            click.echo(f"moved despite: {overridden}", err=True)
        print_change(change, f"moved to {slot.start:%Y-%m-%d %H:%M} UTC")
        deliver_now(services, None)


def parse_moment(text: str, zone: str, option: str) -> datetime:
    """An ISO date-time from the command line; a naive one is read in ``zone``. ``InputError`` naming the
    option when it does not parse."""
    from scheduler.model import zone_named

    try:
        moment = datetime.fromisoformat(text)
        tz = zone_named(zone)
    except ValueError as exc:
        raise InputError(f"{exc}" if "time zone" in str(exc) else f"{text!r} is not an ISO date-time",
                         where=option) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def print_change(change: MeetingChange, what: str) -> None:
    """One line about a changed meeting and what was planned for it."""
    console.print(f"meeting {change.meeting.id} {what} (sequence {change.meeting.sequence}): "
                  f"{len(change.planned)} effects planned, {change.superseded} earlier ones superseded")


@cli.command("busy")
@click.option("--ics", "ics", metavar="FILE", help="An ICS file (or http(s) URL) to read; needs no config or database.")
@click.option("--person", "email", metavar="EMAIL", help="A stored person, read through their own calendar source.")
@click.option("--start", metavar="ISO", help="Start of the window: a date or a date-time (naive: read in --tz). "
              "Default for --person: the first program's next window.")
@click.option("--end", metavar="ISO", help="End of the window; a date includes that whole day.")
@click.option("--tz", "zone", default="UTC", show_default=True, metavar="ZONE",
              help="Zone of the times printed and of a naive --start/--end; for --ics also the zone its floating "
              "times and all-day events are read in.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: busy, tentative (times in UTC) and warnings.")
@pass_context
def busy_command(ctx: Context, ics: str | None, email: str | None, start: str | None, end: str | None, zone: str,
                 as_json: bool) -> None:
    """Print the busy time the engine would use from a calendar over a window: "why was I marked busy?".
    A calendar that cannot be read exits 1, naming the file and the problem.

    \b
    Example:
      coffeechat busy --ics ana.ics --start 2025-03-17 --end 2025-03-21 --tz Europe/London
      coffeechat busy --person ana@example.com --json
    """
    import json

    from scheduler.availability.calendars import (
        busy_as_json,
        check_zone,
        describe_busy,
        parse_window,
        read_calendar_busy,
        stored_person_busy,
    )
    from scheduler.entrypoints.bootstrap import build_ics_calendar
    from scheduler.planning.cycle import next_window

    zone = check_zone(zone)
    if ics is not None and email is None:
        busy = read_calendar_busy(build_ics_calendar(Path.cwd()), ics, zone, parse_window(start, end, zone))
    elif email is not None and ics is None:
        with ctx.services() as services:
            window = (parse_window(start, end, zone) if start or end
                      else next_window(services.program(None), services.clock.now()))
            busy = stored_person_busy(services.uow_factory, services.calendar, email, window)
    else:
        raise InputError("give either --ics FILE or --person EMAIL")
    if as_json:
        click.echo(json.dumps(busy_as_json(busy), indent=2))
    else:
        for line in describe_busy(busy, zone):
            console.print(line)


@cli.command()
@click.option("--dir", "directory", default="demo", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the demo's config, database, calendars and outbox.")
@click.option("--size", default=150, show_default=True, help="How many people the organisation has.")
def demo(directory: Path, size: int) -> None:
    """Generate an organisation with ICS calendars and run one real cycle on it, end to end.

    Running it again plans no second cycle for the same window and sends nothing twice.

    \b
    Example:
      coffeechat demo && coffeechat --config demo/config.toml serve
    """
    from scheduler.clock import SystemClock
    from scheduler.entrypoints.demo import prepare_demo, show_a_decline

    config, people_csv = prepare_demo(directory, size=size, now=SystemClock().now())
    console.print(f"demo folder: {directory}/ (config, people.csv, calendars/, coffeechat.db, outbox/)")
    services = wire(config)
    try:
        report = import_people(services.uow_factory, people_csv.read_text(encoding="utf-8"),
                               source=str(people_csv), clock=services.clock)
        console.print(f"people: {report.created} new, {report.updated} already known")
        with progress_reporter() as progress:
            outcomes = []
            for program in services.programs():
                outcome = run_cycle(services.uow_factory, services.calendar, services.clock, program,
                                    services.settings, progress=progress)
                print_outcome(services, outcome)
                outcomes.append(outcome)
            deliver_now(services, progress)
            # The loop, once the announcements are out: two people decline (as from their emails), the cycle
            # mends itself, and the cancellations and new invitations go out.
            shown = show_a_decline(services.uow_factory, services.calendar, services.clock, services.settings,
                                   outcomes[0].cycle if outcomes and not outcomes[0].already_planned else None)
            for line in shown:
                console.print(line)
            if shown:
                deliver_now(services, progress)
    finally:
        services.dispose()
    outbox = config.resolve(config.mail.outbox_dir)
    console.print(f"emails in {outbox}: {len(list(outbox.glob('*.eml'))) if outbox.exists() else 0}")
    console.print(f"next: coffeechat --config {directory / 'config.toml'} serve")


@cli.command()
@click.option("--host", help="Address to listen on (default: web.host from the config).")
@click.option("--port", type=int, help="Port (default: web.port from the config).")
@pass_context
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web site (development server; use gunicorn in production, see the README).

    \b
    Example:
      coffeechat --config demo/config.toml serve --port 8000
    """
    from web import create_app

    app = create_app(ctx.config)
    app.run(host=host or ctx.config.web.host, port=port or ctx.config.web.port)


def deliver_now(services: Services, progress: Callable[[str, int, int], None] | None) -> DeliveryReport:
    """Deliver everything due with a fresh mailer, print the report (``print_delivery``) and return it."""
    from scheduler.delivery.outbox import deliver_due

    mailer = services.mailer_factory()
    try:
        report = deliver_due(services.uow_factory, services.performers(mailer), services.clock,
                             services.retry_policy, batch_size=services.config.delivery.batch_size,
                             progress=progress)
    finally:
        mailer.close()
    print_delivery(report)
    return report


def print_delivery(report: DeliveryReport) -> None:
    """One line of figures, then one line per paused service (a refused login: what to fix)."""
    console.print(f"delivery: {report.done} sent, {report.retried} to retry, {report.dead} failed"
                  + (f", {report.held} held" if report.held else "")
                  + (f", {report.skipped} taken by another relay" if report.skipped else "")
                  + (f", {report.stale} too late to send (their meeting had begun)" if report.stale else ""))
    for alert in report.alerts:
        # soft_wrap: one line however long, so a log or a cron mail shows the alert whole and greppable.
        console.print(Text(alert, style="red"), soft_wrap=True)


def print_outcome(services: Services, outcome: CycleOutcome, *, details: bool = True) -> None:
    """The plan as a table of groups and a few summary figures."""
    from scheduler.planning.report import summarize

    program = outcome.program
    if outcome.already_planned:
        cycle = outcome.cycle
        window = cycle.window.start.date().isoformat() if cycle else "?"
        console.print(f"program {program.name}: the cycle for the week of {window} is already planned; "
                      "nothing new to plan")
        return
    plan = outcome.plan
    if plan is None:
        return
    if outcome.nobody_eligible:
        console.print(f"program {program.name}: nobody is eligible for the week of "
                      f"{plan.window.start.date().isoformat()}; nothing is stored, so people who sign up or are "
                      "imported before it begins are planned by the next run")
        return
    summary = summarize(plan)
    if details:
        table = Table(title=f"{program.name}: week of {plan.window.start.date().isoformat()}"
                      + (" (dry run: nothing stored)" if outcome.cycle is None else ""), show_lines=True)
        table.add_column("#", justify="right")
        table.add_column("who")
        table.add_column("when (each member's own time)")
        table.add_column("why")
        for number, row in enumerate(summary.rows, start=1):
            table.add_row(str(number), "\n".join(row.members), "\n".join((*row.times, row.location)),
                          "\n".join(row.reasons))
        console.print(table)
        for email, reason in sorted(plan.calendar_problems.items()):
            console.print(Text("calendar", style="yellow"), f"{email}: {reason}")
        for left_out in plan.unmatched:
            console.print(Text("not paired", style="yellow"), f"{left_out.email}: {left_out.reason}")
    for line in summary.figures:
        console.print(line)


@contextmanager
def progress_reporter() -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback: a rich bar on a terminal, a plain line per finished stage otherwise."""
    if console.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            yield advance
        return

    def plain(stage: str, done: int, total: int) -> None:
        if done == total:
            console.print(f"{stage}: {done}/{total}")

    yield plain


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map Coffee Chat errors to one line on stderr and their exit code."""
    try:
        cli.main(args=argv, prog_name="coffeechat", standalone_mode=False)
    except CoffeeChatError as error:
        click.echo(f"error: {error}", err=True)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
