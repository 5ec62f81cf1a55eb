"""``coffeechat outbox`` and ``coffeechat meeting`` end to end: a real config, SQLite database and .eml outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.org import CliResult, Org, open_store
from tests.e2e.outbox import read_invites

RunCli = Callable[..., CliResult]


@pytest.fixture
def planned_org(make_org: Callable[..., Org], run_cli: RunCli) -> Org:
    """An organisation with one cycle planned and its announcements delivered."""
    org = make_org()
    for args in (("init",), ("import-people", org.people_csv), ("run-cycle",)):
        result = run_cli("--config", org.config, *args)
        assert result.code == 0, result.text
    return org


def test_outbox_lists_a_cycles_effects_with_their_states(planned_org: Org, run_cli: RunCli) -> None:
    listed = run_cli("--config", planned_org.config, "outbox", "--cycle", "1")
    assert listed.code == 0, listed.text
    text = listed.out
    assert "outbox: 18 effects" in text  # 6 announcements, 6 reminders, 6 feedback requests
    assert text.count("done") == 6
    assert text.count("pending") == 12

    pending = run_cli("--config", planned_org.config, "outbox", "--state", "pending")
    assert "outbox: 12 effects" in pending.out
    none = run_cli("--config", planned_org.config, "outbox", "--cycle", "2")
    assert "outbox: 0 effects" in none.out
    bad = run_cli("--config", planned_org.config, "outbox", "--state", "lost")
    assert bad.code == 2


def test_requeue_revives_a_dead_effect_and_refuses_anything_else(planned_org: Org,
                                                               run_cli: RunCli) -> None:
    with open_store(planned_org.config) as uow:
        key = uow.outbox.list(state="done")[0].key
        pending_key = uow.outbox.list(state="pending")[0].key
        uow.outbox.claim(pending_key, datetime.now(UTC) + timedelta(days=60), timedelta(minutes=5))
        uow.outbox.mark_dead(pending_key, "550 mailbox unavailable")
        uow.commit()

    listed = run_cli("--config", planned_org.config, "outbox", "--state", "dead")
    assert "550 mailbox unavailable" in listed.out

    requeued = run_cli("--config", planned_org.config, "outbox", "requeue", pending_key)
    assert requeued.code == 0, requeued.text
    with open_store(planned_org.config) as uow:
        effect = next(e for e in uow.outbox.list() if e.key == pending_key)
    assert (effect.state, effect.attempts) == ("pending", 0)

    not_dead = run_cli("--config", planned_org.config, "outbox", "requeue", key)
    assert not_dead.code != 0
    assert "is done, not dead" in not_dead.text
    missing = run_cli("--config", planned_org.config, "outbox", "requeue", "no/such/key")
    assert "no outbox effect with key 'no/such/key'" in missing.text


def test_meeting_cancel_and_reschedule_send_the_calendar_updates(planned_org: Org,
                                                                 run_cli: RunCli) -> None:
    with open_store(planned_org.config) as uow:
        first, second, _ = uow.cycles.meetings(1)
    assert first.slot is not None
    assert second.slot is not None
    start = (first.slot.start.replace(hour=15, minute=0)).isoformat()

    moved = run_cli("--config", planned_org.config, "meeting", "reschedule", str(first.id), "--start", start,
                    "--force")  # the test calendars are busy then: --force moves it all the same
    cancelled = run_cli("--config", planned_org.config, "meeting", "cancel", str(second.id), "--reason", "Away")

    assert moved.code == 0, moved.text
    assert "(sequence 1)" in moved.text
    assert "delivery: 2 sent" in moved.text
    assert cancelled.code == 0, cancelled.text
    invites = read_invites(planned_org.outbox)
    by_method = {(i.uid, i.method, i.content_type_method) for i in invites}
    assert (first.uid, "REQUEST", "REQUEST") in by_method
    assert (second.uid, "CANCEL", "CANCEL") in by_method
    assert sum(i.uid == first.uid and i.start == first.slot.start.replace(hour=15, minute=0) for i in invites) == 2
    again = run_cli("--config", planned_org.config, "meeting", "cancel", str(second.id))
    assert again.code == 2, again.text
    assert "is cancelled" in again.text
    bad = run_cli("--config", planned_org.config, "meeting", "reschedule", str(first.id), "--start", "soon")
    assert "'soon' is not an ISO date-time" in bad.text
