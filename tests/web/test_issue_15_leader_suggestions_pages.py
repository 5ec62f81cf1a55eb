"""Issue 15, part 4 through the site: a manager's page of reports, where they suggest leaders outside each
report's department with a CSRF-protected form; refusals name the field and never answer 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.model import Person
from tests.web.conftest import Site
from tests.web.test_admin import ADMIN, WEB, signed_in, token

BOSS = "boss@example.com"


@pytest.fixture
def site(make_site: Callable[..., Site], database_url: str) -> Site:
    return make_site(database_url=database_url, web=WEB)


def test_issue_15_a_manager_suggests_leaders_to_a_report(site: Site, create_person: Callable[..., Person]) -> None:
    boss = signed_in(site, BOSS, name="Bea Boss", team="Ops")
    ria = create_person(email="ria@example.com", name="Ria Das", department="Finance", manager=BOSS)
    dana = create_person(email="dana@example.com", name="Dana Lee", department="Sales", role="leader")
    fin = create_person(email="fin.lead@example.com", name="Fay Fin", department="Finance", role="leader")
    other = create_person(email="other@example.com", name="Oli", department="Design", manager=ADMIN)
    site.store(ria, dana, fin, other)

    html = boss.get("/account/reports").get_data(as_text=True)
    assert "Ria Das" in html
    assert "Dana Lee" in html
    assert "Fay Fin" not in html  # leads Ria's own department
    assert "Oli" not in html  # not my report

    # Without the CSRF token the site refuses the post, and nothing is stored.
    assert boss.post("/account/reports", data={"report": ria.email, "leaders": dana.email}).status_code == 400
    with site.services.uow_factory() as uow:
        assert uow.leader_suggestions.of_report(ria.email) == frozenset()
    csrf = token(boss, "/account/reports")
    answer = boss.post("/account/reports", data={"csrf_token": csrf, "report": ria.email, "leaders": dana.email})
    assert answer.status_code == 303
    with site.services.uow_factory() as uow:
        assert uow.leader_suggestions.of_report(ria.email) == frozenset({dana.email})

    refused = boss.post("/account/reports", data={"csrf_token": csrf, "report": ria.email,
                                                  "leaders": fin.email})
    assert refused.status_code == 422
    assert "is not a leader outside Ria Das&#39;s department" in refused.get_data(as_text=True)
    not_mine = boss.post("/account/reports", data={"csrf_token": csrf, "report": other.email,
                                                   "leaders": dana.email})
    assert not_mine.status_code == 422
    assert "only to your own direct reports" in not_mine.get_data(as_text=True)
    garbage = boss.post("/account/reports", data={"csrf_token": csrf, "report": ria.email, "leaders": "not an email"})
    assert garbage.status_code == 422
    with site.services.uow_factory() as uow:
        assert uow.leader_suggestions.of_report(ria.email) == frozenset({dana.email})
