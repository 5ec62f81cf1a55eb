"""The admin's figures and charts: the analytics arithmetic of ``scheduler.admin``, the report queries on each
database, the SVG builders (any text escaped, always parseable), the repeats a preview avoids, and hypothesis
fuzzing of the search and import forms (never a 500)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.admin.analytics import Heatmap, cycle_rates, department_heatmap
from scheduler.admin.participants import parse_pause_date
from scheduler.errors import InputError
from scheduler.model import CycleFact, Effect, MeetingFact, PairFact, Person
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import SECRET, Site, build_site, csrf_from, sign_up_and_confirm
from tests.web.test_admin import ADMIN, WEB, token
from web.charts import Series, bar_chart_svg, heatmap_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def meeting(cycle_id: int, *members: tuple[str, str, str], state: str = "proposed", answers: int = 0,
            met: int = 0) -> MeetingFact:
    """A meeting of (email, department, team) members."""
    return MeetingFact(cycle_id, tuple(m[0] for m in members), tuple(m[1] for m in members),
                       tuple(m[2] for m in members), state=state, answers=answers, met=met)


ANA = ("ana@example.com", "Sales", "S1")
BO = ("bo@example.com", "Research", "R1")
CY = ("cy@example.com", "Research", "R2")
DI = ("di@example.com", "", "")  # gone: no department or team any more


# --- analytics arithmetic -------------------------------------------------------------------------------------


def test_heatmap_counts_planned_meetings_until_someone_answers() -> None:
    meetings = [meeting(1, ANA, BO), meeting(1, BO, CY, DI), meeting(1, ANA, CY, state="cancelled")]
    planned = department_heatmap(meetings)
    assert planned.source == "planned"
    assert planned.departments == ("(no department)", "Research", "Sales")
    assert planned.count("Sales", "Research") == planned.count("Research", "Sales") == 1
    assert planned.count("Research", "Research") == 1
    assert planned.count("Research", "(no department)") == 2
    assert planned.peak == 2
    answered = department_heatmap([*meetings[:1], meeting(1, BO, CY, DI, answers=2, met=0),
                                   meeting(2, ANA, CY, answers=1, met=1)])
    assert answered.source == "feedback"
    assert answered.departments == ("Research", "Sales")
    assert answered.count("Research", "Sales") == 1  # ana and cy said yes; ana and bo never answered
    assert answered.count("Research", "Research") == 0


def test_cycle_rates_count_participation_met_and_new_cross_team_pairs() -> None:
    cycles = [CycleFact(2, "coffee", MONDAY + timedelta(days=7), unmatched=0),
              CycleFact(1, "coffee", MONDAY, unmatched=1)]
    meetings = [meeting(1, ANA, BO, answers=2, met=2), meeting(1, CY, DI, answers=1, met=0),
                meeting(2, ANA, BO), meeting(2, CY, ("ed@example.com", "Research", "R2"), state="cancelled")]
    pairs = [PairFact(1, "ana@example.com", "bo@example.com"), PairFact(1, "cy@example.com", "di@example.com"),
             PairFact(2, "ana@example.com", "bo@example.com"), PairFact(2, "cy@example.com", "ed@example.com")]
    first, second = cycle_rates(cycles, meetings, pairs)
    assert (first.cycle_id, first.placed, first.in_cycle) == (1, 4, 5)
    assert first.participation == pytest.approx(0.8)
    assert (first.answered, first.met, first.met_rate) == (2, 1, 0.5)
    assert first.new_connections == 2  # both pairs are new; di is gone, so counted as another team
    assert second.cycle_id == 2
    assert second.met_rate is None
    assert (second.placed, second.participation) == (2, 1.0)
    # ana and bo met before; cy and ed share team R2, so theirs is new but not cross-team.
    assert second.new_connections == 0


def test_pause_date_must_be_a_later_iso_date() -> None:
    today = date(2026, 3, 1)
    assert parse_pause_date("  ", today) is None
    assert parse_pause_date("2026-04-01", today) == date(2026, 4, 1)
    for bad, words in (("2026-03-01", "has passed"), ("tomorrow", "not a date"), ("2026-13-01", "not a date")):
        with pytest.raises(InputError, match=words) as caught:
            parse_pause_date(bad, today)
        assert caught.value.where == "pause until"


# --- the report queries on each database --------------------------------------------------------------------


def test_reports_count_feedback_unmatched_and_effects(make_site: Callable[..., Site], database_url: str,
                                                      create_person: Callable[..., Person]) -> None:
    site = make_site(database_url=database_url, web=WEB)
    site.store(*[create_person(department=f"D{n % 2}") for n in range(5)])
    assert sign_up_and_confirm(site, email=ADMIN).status_code == 303
    site.client.post("/admin/cycles/coffee/run", data={"csrf_token": token(site.client)})
    with site.services.uow_factory() as uow:
        cycle = uow.cycles.list()[0]
        assert cycle.id is not None
        first = uow.cycles.meetings(cycle.id)[0]
        assert first.id is not None
        uow.feedback.add(first.id, first.group.members[0], True)
        uow.feedback.add(first.id, first.group.members[1], False)
        uow.cycles.add_unmatched(cycle.id, [])
        uow.outbox.add(Effect(key="loose/1", kind="email", payload={}))
        uow.commit()
    with site.services.uow_factory() as uow:
        facts = uow.reports.cycles()
        meetings = uow.reports.meetings()
        counts = {(c.cycle_id, c.state): c.count for c in uow.reports.effect_counts()}
        pairs = uow.reports.pairs()
        planned = uow.outbox.list(cycle_id=cycle.id)
        stored = uow.cycles.meetings(cycle.id)
    assert [(f.id, f.program, f.window_start, f.unmatched) for f in facts] == [
        (cycle.id, "coffee", cycle.window.start, 0)]
    assert [m.members for m in meetings] == [m.group.members for m in stored]
    answered = next(m for m in meetings if m.members == first.group.members)
    assert (answered.answers, answered.met) == (2, 1)
    assert all((m.answers, m.met) == (0, 0) for m in meetings if m is not answered)
    assert {d for m in meetings for d in m.departments} <= {"D0", "D1", "Engineering"}
    assert counts == {(cycle.id, "pending"): len(planned), (None, "pending"): 1}
    assert len(pairs) == sum(len(m.group.members) * (len(m.group.members) - 1) // 2 for m in stored)


def test_preview_counts_the_repeats_it_avoids(make_site: Callable[..., Site], database_url: str,
                                              create_person: Callable[..., Person]) -> None:
    site = make_site(database_url=database_url, web=WEB)
    site.store(*[create_person(department=f"D{n % 3}") for n in range(7)])
    assert sign_up_and_confirm(site, email=ADMIN).status_code == 303
    site.client.post("/admin/cycles/coffee/run", data={"csrf_token": token(site.client)})
    with site.services.uow_factory() as uow:
        recent = len(uow.history.pairs_in_recent_cycles("coffee", 6))
    assert recent >= 4
    clock = site.services.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(days=7))
    html = site.client.get("/admin/cycles/coffee").get_data(as_text=True)
    assert f"{recent} of {recent} pairs who met in the last 6 cycles are kept apart" in html


# --- charts ---------------------------------------------------------------------------------------------------


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output under test
    assert root.tag == f"{SVG_NS}svg"
    assert root.find(f"{SVG_NS}title") is not None
    assert root.find(f"{SVG_NS}desc") is not None
    return root


# Any text a person may type into a department or program name, markup and XML's own specials included.
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(departments=st.lists(names, min_size=1, max_size=6, unique=True), data=st.data())
def test_heatmap_svg_parses_and_keeps_every_name(departments: list[str], data: st.DataObject) -> None:
    counts = {(a, b) if a <= b else (b, a): data.draw(st.integers(1, 50))
              for a in departments for b in departments if data.draw(st.booleans())}
    heatmap = Heatmap(tuple(sorted(departments)), counts, "planned")
    root = parse(str(heatmap_svg(heatmap)))
    titles = {t.text for t in root.iter(f"{SVG_NS}title")}
    for a in departments:
        for b in departments:
            assert f"{a} and {b}: {heatmap.count(a, b)}" in titles


@settings(max_examples=60, deadline=None)
@given(labels=st.lists(names, max_size=8), values=st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=8),
       series_name=names)
def test_bar_chart_svg_parses_whatever_the_labels(labels: list[str], values: list[float | None],
                                                  series_name: str) -> None:
    svg = bar_chart_svg(f"Title {series_name}", f"About {series_name}", labels,
                        [Series(series_name, "#123456", values)], chart_id="x", percent=True)
    root = parse(str(svg))
    assert root.find(f"{SVG_NS}title").text == f"Title {series_name}"  # type: ignore[union-attr]
    bars = [r for r in root.iter(f"{SVG_NS}rect") if r.find(f"{SVG_NS}title") is not None]
    assert len(bars) == sum(1 for v in values[: len(labels)] if v is not None)


def test_charts_escape_markup_and_draw_no_style_or_script() -> None:
    heatmap = Heatmap(("<script>alert(1)</script>", "R&D"), {("<script>alert(1)</script>", "R&D"): 2}, "feedback")
    svg = str(heatmap_svg(heatmap))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "R&amp;D" in svg
    assert "style=" not in svg
    parse(svg)


# --- fuzzing the admin's forms ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Site]:
    """One site for every example, its client signed in as the admin."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COFFEECHAT_SECRET_KEY", SECRET)
        site = build_site(tmp_path_factory.mktemp("admin-fuzz") / "site", FakeClock(SUNDAY_NOON), migrated_sqlite,
                          web=WEB)
        assert sign_up_and_confirm(site, email=ADMIN).status_code == 303
    yield site
    site.services.dispose()


nasty = st.one_of(st.text(max_size=60), st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
                  st.sampled_from(["", "\x00", "<script>", "x" * 201, "a\r\nb", "%", "_", "'; drop table people;--"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=nasty)
def test_fuzzed_search_never_fails(fuzz_site: Site, query: str) -> None:
    answer = fuzz_site.client.get("/admin", query_string={"q": query})
    assert answer.status_code in (200, 400)
    if answer.status_code == 200:
        assert "<script>" not in answer.get_data(as_text=True)


csv_cells = st.one_of(nasty, st.sampled_from(["ana@example.com", "Ana", "Team", "Europe/London", "yes", "no",
                                              "mon-fri 09:00-17:00", "coffee;lunch", "ics:/etc/passwd"]))
csv_texts = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda header, rows: (",".join(header) + "\n" + "\n".join(",".join(r) for r in rows)).encode(
        "utf-8", "surrogatepass"),
        st.lists(st.sampled_from(["email", "name", "team", "timezone", "working_hours", "kinds", "verified",
                                  "calendar", "Email", "bogus", ""]), max_size=6),
        st.lists(st.lists(csv_cells, max_size=6), max_size=5)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=csv_texts, filename=st.one_of(st.just("people.csv"), st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=60)))
def test_fuzzed_import_never_fails(fuzz_site: Site, content: bytes, filename: str) -> None:
    client = fuzz_site.client
    csrf = csrf_from(client.get("/admin").get_data(as_text=True).split('action="/admin/import"', 1)[1])
    answer = client.post("/admin/import", data={"csrf_token": csrf, "people": (io.BytesIO(content), filename)},
                         content_type="multipart/form-data")
    assert answer.status_code in (200, 400, 422)
