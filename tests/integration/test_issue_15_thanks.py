"""Issue 15, part 4, "Thanks": the service of ``scheduler.planning.thanks`` and its storage, on SQLite and on
PostgreSQL (``new_uow`` runs on each test database): who may thank whom and when, the emails planned in the same
transaction, the manager told only when chosen and known, the admin's counts, export, deletion, and migration
0017 up and down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.accounts.profile import delete_account, export_data
from scheduler.delivery.emails import email_from_payload
from scheduler.errors import InputError, NotFoundError
from scheduler.model import Effect, Meeting, Person, Program
from scheduler.planning.matches import record_feedback
from scheduler.planning.meetings import cancel_meeting
from scheduler.planning.thanks import MAX_NOTE, check_note, thank_partner, thanks_offers
from scheduler.storage.migrate import downgrade_database, upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork
from tests.fakes import FakeClock
from tests.web.test_match_services import SETTINGS, SLOT, meeting_id, store_meeting, table_names

UowFactory = Callable[[], SqlAlchemyUnitOfWork]
AFTER = SLOT.end + timedelta(hours=2)


@pytest.fixture
def people(create_person: Callable[..., Person]) -> tuple[Person, Person, Person]:
    """Ana and Ben, whose manager Carol is stored too."""
    return (create_person(email="ana@example.com", name="Ana <López>"),
            create_person(email="ben@example.com", name="Ben Okafor", manager="carol@example.com"),
            create_person(email="carol@example.com", name="Carol Manager"))


@pytest.fixture
def met(migrated_url: str, new_uow: UowFactory, people: tuple[Person, Person, Person]) -> Meeting:
    """A meeting of Ana and Ben that has taken place, and Ana said "we met"."""
    ana, ben, carol = people
    meeting = store_meeting(new_uow, [ana, ben])
    with new_uow() as uow:
        uow.people.save(carol)
        uow.commit()
    record_feedback(new_uow, FakeClock(AFTER), meeting_id(meeting), ana.email, met=True)
    return meeting


def thank(new_uow: UowFactory, meeting: Meeting, writer: str = "ana@example.com",
          partner: str = "ben@example.com", **options: object):  # type: ignore[no-untyped-def]
    return thank_partner(new_uow, FakeClock(AFTER), SETTINGS, meeting_id(meeting), writer, partner,
                         **options)  # type: ignore[arg-type]


def outbox(new_uow: UowFactory, prefix: str = "thanks/") -> list[Effect]:
    with new_uow() as uow:
        return list(uow.outbox.with_prefix(prefix))


def test_issue_15_thanks_stores_who_thanked_whom_without_the_text_and_queues_the_email(
        new_uow: UowFactory, met: Meeting) -> None:
    given = thank(new_uow, met, note="Thanks for the tips <b>on Payments</b>!")

    with new_uow() as uow:
        [stored] = uow.thanks.of_meeting(meeting_id(met))
    assert (stored.writer, stored.recipient, stored.shared_with_manager) == ("ana@example.com", "ben@example.com",
                                                                             False)
    assert stored.thanked_at == AFTER
    assert not hasattr(stored, "note")
    [effect] = outbox(new_uow)
    assert effect == given.effects[0]
    assert effect.state == "pending"  # queued, not sent
    assert effect.key.endswith("/ben@example.com")
    assert "ana@example.com" not in effect.key  # the writer's address is not in the partner's key
    message = email_from_payload(effect.payload)
    assert message.to == ("Ben Okafor <ben@example.com>",)
    assert message.subject == "Ana <López> says thank you for your coffee chat"
    assert "Thanks for the tips <b>on Payments</b>!" in message.text
    assert "Thanks for the tips &lt;b&gt;on Payments&lt;/b&gt;!" in message.html
    assert "Ana &lt;López&gt;" in message.html
    assert "<b>on Payments</b>" not in message.html


def test_issue_15_thanks_is_once_per_meeting_writer_and_partner(new_uow: UowFactory, met: Meeting) -> None:
    thank(new_uow, met, note="first")

    with pytest.raises(InputError, match="already thanked Ben Okafor") as refused:
        thank(new_uow, met, note="second", tell_manager=True)

    assert refused.value.where == "partner"
    assert len(outbox(new_uow)) == 1
    with new_uow() as uow:
        assert len(uow.thanks.of_meeting(meeting_id(met))) == 1
    # Ben may thank Ana in return once he said "we met" too.
    record_feedback(new_uow, FakeClock(AFTER), meeting_id(met), "ben@example.com", met=True)
    thank(new_uow, met, writer="ben@example.com", partner="ana@example.com")
    assert len(outbox(new_uow)) == 2


def test_issue_15_thanks_is_refused_unless_the_writer_said_they_met(
        new_uow: UowFactory, met: Meeting) -> None:
    # Ben has not answered "did you meet?" yet; then he answers "we didn't meet".
    with pytest.raises(InputError, match="say first that you met"):
        thank(new_uow, met, writer="ben@example.com", partner="ana@example.com")
    record_feedback(new_uow, FakeClock(AFTER), meeting_id(met), "ben@example.com", met=False)
    with pytest.raises(InputError, match="say first that you met"):
        thank(new_uow, met, writer="ben@example.com", partner="ana@example.com")
    assert thanks_offers(new_uow, meeting_id(met), "ben@example.com", AFTER) == ()
    assert outbox(new_uow) == []


def test_issue_15_thanks_is_refused_before_the_meeting_and_once_cancelled(
        new_uow: UowFactory, met: Meeting) -> None:
    before = thank_partner
    with pytest.raises(InputError, match="not happened yet"):
        before(new_uow, FakeClock(SLOT.start - timedelta(minutes=1)), SETTINGS, meeting_id(met),
               "ana@example.com", "ben@example.com")
    assert thanks_offers(new_uow, meeting_id(met), "ana@example.com", SLOT.start - timedelta(minutes=1)) == ()

    cancel_meeting(new_uow, FakeClock(AFTER), SETTINGS, meeting_id(met), reason="test")
    with pytest.raises(InputError, match="cancelled"):
        thank(new_uow, met)
    assert outbox(new_uow) == []


def test_issue_15_thanks_only_members_thank_only_their_partners(
        new_uow: UowFactory, met: Meeting) -> None:
    with pytest.raises(NotFoundError):
        thank(new_uow, met, writer="carol@example.com", partner="ben@example.com")
    with pytest.raises(NotFoundError):
        thank_partner(new_uow, FakeClock(AFTER), SETTINGS, 999_999, "ana@example.com", "ben@example.com")
    for stranger in ("carol@example.com", "ana@example.com", "nobody@example.com"):
        with pytest.raises(InputError, match="choose a partner") as refused:
            thank(new_uow, met, partner=stranger)
        assert refused.value.where == "partner"
    assert outbox(new_uow) == []


def test_issue_15_thanks_tells_the_manager_only_when_chosen_and_known(
        new_uow: UowFactory, met: Meeting, create_person: Callable[..., Person]) -> None:
    [offer] = thanks_offers(new_uow, meeting_id(met), "ana@example.com", AFTER)
    assert offer.partner.email == "ben@example.com"
    assert offer.manager is not None
    assert offer.manager.email == "carol@example.com"
    assert offer.thanked is None

    given = thank(new_uow, met, note="You were a great help", tell_manager=True)

    assert given.manager_told
    effects = {effect.key.rpartition("/")[2]: effect for effect in outbox(new_uow)}
    assert set(effects) == {"ben@example.com", "carol@example.com"}
    to_carol = email_from_payload(effects["carol@example.com"].payload)
    assert to_carol.to == ("Carol Manager <carol@example.com>",)
    assert to_carol.subject == "Ana <López> thanked Ben Okafor for a coffee chat"
    assert "You were a great help" in to_carol.text
    assert "/matches/" not in to_carol.text  # the manager was not in the meeting: no link to its page
    with new_uow() as uow:
        [stored] = uow.thanks.of_meeting(meeting_id(met))
    assert stored.shared_with_manager
    [offer] = thanks_offers(new_uow, meeting_id(met), "ana@example.com", AFTER)
    assert offer.thanked == stored


def test_issue_15_thanks_without_a_stored_manager_offers_none_and_refuses_to_tell(
        new_uow: UowFactory, migrated_url: str, create_person: Callable[..., Person]) -> None:
    # Dan's manager is an address nobody has; Eve has none at all.
    dan = create_person(email="dan@example.com", name="Dan", manager="ghost@example.com")
    eve = create_person(email="eve@example.com", name="Eve")
    meeting = store_meeting(new_uow, [dan, eve])
    for person in (dan, eve):
        record_feedback(new_uow, FakeClock(AFTER), meeting_id(meeting), person.email, met=True)
    [offer] = thanks_offers(new_uow, meeting_id(meeting), "eve@example.com", AFTER)
    assert offer.manager is None

    for writer, partner in (("eve@example.com", "dan@example.com"), ("dan@example.com", "eve@example.com")):
        with pytest.raises(InputError, match="no manager we know of") as refused:
            thank(new_uow, meeting, writer=writer, partner=partner, tell_manager=True)
        assert refused.value.where == "manager"
    assert outbox(new_uow) == []
    # Not ticking the box still thanks, with one email only.
    assert len(thank(new_uow, meeting, writer="eve@example.com", partner="dan@example.com").effects) == 1


def test_issue_15_thanks_a_bad_note_is_refused_before_anything_is_stored(
        new_uow: UowFactory, met: Meeting) -> None:
    for note in ("x" * (MAX_NOTE + 1), "bell\x07"):
        with pytest.raises(InputError) as refused:
            thank(new_uow, met, note=note)
        assert refused.value.where == "note"
    assert outbox(new_uow) == []
    assert len(thank(new_uow, met, note="  " + "x" * MAX_NOTE + "  ").effects) == 1


@given(st.text(max_size=MAX_NOTE + 20))
def test_issue_15_thanks_check_note_keeps_only_short_clean_text(text: str) -> None:
    cleaned = text.strip().replace("\r\n", "\n")
    control = any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF
                  for c in cleaned)
    if len(cleaned) > MAX_NOTE or control:
        with pytest.raises(InputError) as refused:
            check_note(text)
        assert refused.value.where == "note"
    else:
        assert check_note(text) == cleaned


def test_issue_15_thanks_counts_by_program_for_the_admin_without_text(
        new_uow: UowFactory, met: Meeting, create_person: Callable[..., Person]) -> None:
    thank(new_uow, met, note="secret words", tell_manager=True)
    record_feedback(new_uow, FakeClock(AFTER), meeting_id(met), "ben@example.com", met=True)
    thank(new_uow, met, writer="ben@example.com", partner="ana@example.com", note="more secret words")
    lunch = store_meeting(new_uow, [create_person(email="fay@example.com"), create_person(email="gus@example.com")],
                          program=Program("lunch", kind="lunch"))
    record_feedback(new_uow, FakeClock(AFTER), meeting_id(lunch), "fay@example.com", met=True)
    thank(new_uow, lunch, writer="fay@example.com", partner="gus@example.com")

    with new_uow() as uow:
        counts = uow.reports.thanks_counts()

    assert [(c.program, c.count, c.shared_with_manager) for c in counts] == [("coffee", 2, 1), ("lunch", 1, 0)]
    assert "secret" not in repr(counts)


def test_issue_15_thanks_are_in_the_export_and_go_with_a_deleted_account(
        new_uow: UowFactory, met: Meeting) -> None:
    thank(new_uow, met, note="not exported", tell_manager=True)
    clock = FakeClock(AFTER)

    ana, ben = export_data(new_uow, clock, "ana@example.com"), export_data(new_uow, clock, "ben@example.com")

    assert ana["thanks_written"] == [{"meeting_id": meeting_id(met), "to": "Ben Okafor", "manager_told": True,
                                      "at": AFTER.isoformat()}]
    assert ana["thanks_received"] == []
    assert ben["thanks_received"] == [{"meeting_id": meeting_id(met), "from": "Ana <López>", "manager_told": True,
                                       "at": AFTER.isoformat()}]
    assert "not exported" not in repr(ana) + repr(ben)

    deletion = delete_account(new_uow, clock, SETTINGS, "ana@example.com")

    assert deletion.removed["thanks"] == 1
    with new_uow() as uow:
        assert uow.thanks.of_person("ben@example.com") == []
        assert uow.thanks.of_meeting(meeting_id(met)) == []


def test_issue_15_thanks_migration_0017_up_and_down(database_url: str, new_uow: UowFactory,
                                                    people: tuple[Person, Person, Person]) -> None:
    upgrade_database(database_url)
    meeting = store_meeting(new_uow, list(people[:2]))
    record_feedback(new_uow, FakeClock(AFTER), meeting_id(meeting), "ana@example.com", met=True)
    thank(new_uow, meeting)

    assert downgrade_database(database_url, "0016") == "0016"
    tables = table_names(database_url)
    assert "thanks" not in tables
    assert {"feedback", "meetings", "outbox_effects"} <= tables

    upgrade_database(database_url)
    assert "thanks" in table_names(database_url)
    with new_uow() as uow:
        assert uow.thanks.of_meeting(meeting_id(meeting)) == []
    thank(new_uow, meeting)  # the table works again after the round trip
