"""Issue 15, part 3, through the site: "Yes, decline" on the match page re-pairs the partner left alone with
someone the cycle left out, in the same request; the page says what is true (emails wait in the outbox), the
partner's cancellation says they are re-paired and their new announcement follows, and the undo is gone. On
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from scheduler.model import Person
from tests.web.conftest import Site, submit
from tests.web.test_match_pages import deliver, html, plan_pair, stored
from tests.web.test_sessions import sign_in


def test_issue_15_declining_on_the_site_re_pairs_the_partner_with_someone_left_out(
        db_site: Site, create_person: Callable[..., Person]) -> None:
    # Cy shares Ben's team, so the cycle pairs one of them with Ana and leaves the other out.
    db_site.store(create_person(email="cy@example.com", name="Cy Tan", team="Field Sales", department="Sales",
                                office="New York", timezone="America/New_York"))
    match = plan_pair(db_site, create_person)
    members = set(match.meeting.group.members)
    assert "ana@example.com" in members
    assert len(members) == 2
    decliner = next(iter(members - {"ana@example.com"}))
    left_out = ({"ben@example.com", "cy@example.com"} - members).pop()
    browser = db_site.new_client()
    sign_in(db_site, browser, decliner)

    done = submit(browser, f"/matches/{match.id}/decline", {"confirmed": "yes"}, form_page=f"/matches/{match.id}")

    assert done.status_code == 303
    page = html(browser.get(done.headers["Location"]))
    assert "your partner is paired with someone else who is free this cycle; they will get an email" in page
    assert "Undo my decline" not in page
    assert "sent" not in page.split("<main", 1)[-1].lower().split("</main>", 1)[0]
    assert stored(db_site, match.id).state == "cancelled"
    with db_site.services.uow_factory() as uow:
        assert match.meeting.cycle_id is not None
        standing = [m for m in uow.cycles.meetings(match.meeting.cycle_id) if m.state != "cancelled"]
        unmatched = {u.email for u in uow.cycles.unmatched(match.meeting.cycle_id)}
    assert [set(m.group.members) for m in standing] == [{"ana@example.com", left_out}]
    assert left_out not in unmatched

    sent = deliver(db_site)

    cancelled = next(m for m in sent if "ana@example.com" in m.to[0] and m.subject.startswith("Cancelled"))
    assert "We have paired you with" in cancelled.text
    assert "next round" not in cancelled.text
    announced = [m for m in sent if "ana@example.com" in m.to[0] and not m.subject.startswith("Cancelled")]
    assert any("partner could not make it" in m.text for m in announced)
    assert any(left_out in m.to[0] and "partner could not make it" in m.text for m in sent)
