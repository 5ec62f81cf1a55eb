"""Hypothesis fuzzing of the admin's forms and the match page's buttons through the test client: whatever is
sent, never a 500; a program change that is accepted always leaves a program that holds, one that is refused
leaves nothing stored; a "did we meet?" answer that is accepted keeps no control character."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import event, given, settings
from hypothesis import strategies as st

from scheduler.model import Person
from scheduler.programs.settings import EDITABLE, EDITABLE_NUMBERS, WEIGHT_NAMES, WEIGHT_RANGE
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import SECRET, Site, build_site, csrf_from, sign_up_and_confirm
from tests.web.test_admin import ADMIN, WEB
from tests.web.test_form_fuzz import nasty
from tests.web.test_match_pages import plan_pair, sign_in

FUZZ = settings(max_examples=80, deadline=None)
numbers = st.one_of(nasty, st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str))
program_forms = st.fixed_dictionaries(
    {},
    optional={**{name: st.one_of(nasty, st.sampled_from(["coffee", "lunch", "weekly", "monthly", "virtual",
                                                         "never", "cooldown", "y", ""]))
                 for name in EDITABLE},
              **{name: numbers for name in EDITABLE_NUMBERS},
              **{f"weight_{name}": numbers for name in WEIGHT_NAMES},
              "action": st.sampled_from(["save", "reset", "", "\x00"])})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Site]:
    """One site for all the examples of this module, its ``client`` signed in as the admin."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COFFEECHAT_SECRET_KEY", SECRET)
        made = build_site(tmp_path_factory.mktemp("admin-fuzz") / "site", FakeClock(SUNDAY_NOON), migrated_sqlite,
                          web=WEB)
    assert sign_up_and_confirm(made, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    yield made
    made.services.dispose()


def token(site: Site) -> str:
    return csrf_from(site.client.get("/admin/programs/coffee").get_data(as_text=True))


@FUZZ
@given(form=program_forms)
def test_fuzzed_program_changes_never_fail_and_leave_a_program_that_holds(site: Site, form: dict[str, str]) -> None:
    answer = site.client.post("/admin/programs/coffee", data={**form, "csrf_token": token(site)})

    assert answer.status_code in (303, 400), answer.status_code
    event(f"answered {answer.status_code}")
    program = site.services.program("coffee")  # whatever is stored reads back as a valid program
    for name, (low, high) in EDITABLE_NUMBERS.items():
        assert low <= getattr(program, name) <= high, name
    for name in WEIGHT_NAMES:
        assert WEIGHT_RANGE[0] <= getattr(program.weights, name) <= WEIGHT_RANGE[1], name
    if answer.status_code == 400:
        assert '<p class="error"' in answer.get_data(as_text=True)


@FUZZ
@given(email=nasty, until=nasty, action=nasty, query=nasty)
def test_fuzzed_participant_actions_never_fail(site: Site, email: str, until: str, action: str,
                                              query: str) -> None:
    csrf = token(site)
    assert site.client.get("/admin", query_string={"q": query}).status_code in (200, 400)
    paused = site.client.post("/admin/people/pause", data={"email": email, "until": until, "csrf_token": csrf})
    access = site.client.post("/admin/people/access", data={"email": email, "action": action, "csrf_token": csrf})
    requeue = site.client.post("/admin/deliveries/requeue", data={"key": email, "csrf_token": csrf})
    assert paused.status_code in (303, 400, 404), paused.status_code
    assert access.status_code in (303, 400, 404), access.status_code
    assert requeue.status_code in (303, 400, 404), requeue.status_code
    admin = site.person(ADMIN)
    assert admin is not None  # nothing typed here removes or breaks a person


@FUZZ
@given(content=st.one_of(st.binary(max_size=400), nasty.map(lambda text: text.encode("utf-8", "surrogatepass")),
                         st.builds(lambda row: f"email,name,team\n{row}\n".encode("utf-8", "surrogatepass"), nasty)))
def test_fuzzed_csv_imports_never_fail(site: Site, content: bytes) -> None:
    answer = site.client.post("/admin/import", data={"people": (io.BytesIO(content), "people.csv"),
                                                     "csrf_token": token(site)},
                              content_type="multipart/form-data")
    assert answer.status_code in (200, 400, 422), answer.status_code
    event(f"answered {answer.status_code}")


@pytest.fixture(scope="module")
def met(site: Site) -> tuple[FlaskClient, int]:
    """Ana signed in on her own browser, and a meeting of hers that has taken place (the clock moved past it)."""
    counter = iter(range(1, 1000))

    def person(**overrides: Any) -> Person:
        n = next(counter)
        return Person(**{"email": f"p{n}@example.com", "name": f"P {n}", "team": f"t{n}",
                         "verified_at": SUNDAY_NOON, **overrides})

    match = plan_pair(site, person)
    assert match.meeting.slot is not None
    clock = site.services.clock
    assert isinstance(clock, FakeClock)
    clock.current = match.meeting.slot.end
    ana = site.new_client("127.0.0.7")
    sign_in(site, ana, "ana@example.com")
    return ana, match.id


@FUZZ
@given(met_answer=nasty, rating=nasty, comment=nasty)
def test_fuzzed_feedback_never_fails_and_keeps_no_control_characters(site: Site, met: tuple[FlaskClient, int],
                                                                    met_answer: str,
                                                                    rating: str, comment: str) -> None:
    ana, meeting_id = met
    csrf = csrf_from(ana.get("/account").get_data(as_text=True))
    answer = ana.post(f"/matches/{meeting_id}/feedback", data={"met": met_answer, "rating": rating,
                                                               "comment": comment, "csrf_token": csrf})
    assert answer.status_code in (303, 400, 422), answer.status_code
    event(f"answered {answer.status_code}")
    with site.services.uow_factory() as uow:
        for stored in uow.feedback.answers(meeting_id):
            assert all(ch in "\n" or ord(ch) >= 32 for ch in stored.comment)
            assert stored.rating is None or 1 <= stored.rating <= 5
