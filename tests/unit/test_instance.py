"""Offline pairing instances: loading, the place named by every error, ids in and out, history, slots."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from scheduler.errors import InputError
from scheduler.model import Interval, Weights, WorkingHours
from scheduler.pairing.tuning import BoundLimits
from scheduler.planning.instance import INVALID_DOMAIN, load_instance, solve_instance

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
LONDON = "Europe/London"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def instance_data(**overrides: Any) -> dict[str, Any]:
    """A small valid instance: six people in six teams, two departments, two offices."""
    data: dict[str, Any] = {
        "program": {"kind": "coffee", "group_size": 2, "cooldown_cycles": 6},
        "people": [
            {"id": "p1", "team": "Payments", "department": "Engineering", "office": "London", "timezone": LONDON},
            {"id": "p2", "team": "Deals", "department": "Sales", "office": "Berlin", "timezone": BERLIN},
            {"id": "p3", "team": "Mobile", "department": "Engineering", "office": "London", "timezone": LONDON},
            {"id": "p4", "team": "Leads", "department": "Sales", "office": "Berlin", "timezone": BERLIN},
            {"id": "p5", "team": "Web", "department": "Engineering", "office": "Berlin", "timezone": BERLIN},
            {"id": "p6", "team": "Accounts", "department": "Sales", "office": "London", "timezone": LONDON},
        ],
    }
    data.update(overrides)
    return data


def load(data: dict[str, Any]) -> Any:
    return load_instance(data, source="instance.json", now=NOW)


def window(days: int = 5) -> dict[str, str]:
    return {"start": "2026-11-23T00:00:00Z", "end": f"2026-11-{23 + days}T00:00:00Z"}


# --- loading ------------------------------------------------------------------------------------------------


def test_every_field_reaches_the_person() -> None:
    data = instance_data()
    data["people"][0].update({
        "name": "Ana López", "format": "virtual", "kinds": ["coffee"], "level": 3, "manager": "p3",
        "interests": ["jazz", "chess"], "wishlist": ["p2", "team:Design", "department:Sales"], "blocked": ["p4"],
        "working_hours": {"days": ["mon", "tue", "thu"], "start": "08:30", "end": "16:30"},
        "busy": [["2026-11-23T09:00:00Z", "2026-11-23T10:00:00+00:00"]],
    })
    instance = load({**data, "window": window()})

    ana = instance.people[0]
    mail = instance.email_of
    assert ana.email == f"p1@{INVALID_DOMAIN}"
    assert (ana.name, ana.team, ana.department, ana.office, ana.timezone) == (
        "Ana López", "Payments", "Engineering", "London", LONDON)
    assert ana.mode == "virtual"
    assert ana.kinds == frozenset({"coffee"})
    assert ana.seniority == "3"
    assert ana.manager == mail["p3"]
    assert ana.interests == frozenset({"jazz", "chess"})
    assert ana.wishlist == frozenset({mail["p2"], "team:Design", "department:Sales"})
    assert ana.blocked == frozenset({mail["p4"]})
    assert ana.working_hours == WorkingHours(frozenset({0, 1, 3}), time(8, 30), time(16, 30))
    assert ana.verified_at is not None
    assert ana.ineligibility(instance.program, instance.today) is None
    assert instance.busy == {ana.email: (Interval(MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10)),)}


def test_optional_fields_default_like_a_csv_import() -> None:
    instance = load({"people": [{"id": "solo", "team": "One"}]})

    person = instance.people[0]
    assert (person.department, person.office, person.timezone, person.mode) == ("", "", "UTC", "either")
    assert person.kinds == frozenset({"coffee", "lunch"})
    assert person.working_hours == WorkingHours()
    assert instance.program.kind == "coffee"
    assert instance.program.weights == Weights()
    assert instance.window is None
    assert instance.busy == {}
    assert instance.today == NOW.date()
    assert instance.seed == 1


def test_program_settings_and_nested_weights_are_read() -> None:
    instance = load(instance_data(program={
        "name": "lunch club", "kind": "lunch", "cadence": "fortnightly", "group_size": 2, "cooldown_cycles": 3,
        "duration_minutes": 60, "meeting_mode": "either", "buffer_minutes": 10, "relax": "cooldown_then_team",
        "weights": {"never_met": 6, "seniority_mix": 1.5},
    }))

    program = instance.program
    assert (program.name, program.kind, program.cadence, program.cooldown_cycles) == (
        "lunch club", "lunch", "fortnightly", 3)
    assert (program.duration_minutes, program.meeting_mode, program.buffer_minutes, program.relax) == (
        60, "either", 10, "cooldown_then_team")
    assert program.weights == Weights(never_met=6.0, seniority_mix=1.5)


def test_today_comes_from_the_window_then_the_today_key_then_the_clock() -> None:
    assert load(instance_data(window=window())).today == date(2026, 11, 23)
    assert load(instance_data(today="2026-01-05")).today == date(2026, 1, 5)
    assert load(instance_data()).today == date(2026, 11, 22)


# --- errors name their place ------------------------------------------------------------------------------


def person_change(index: int, **fields: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["people"][index].update(fields)
    return change


def person_drop(index: int, key: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        del data["people"][index][key]
    return change


def top(**fields: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data.update(fields)
    return change


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (top(colour="blue"), "colour", "unknown key"),
        (top(people={}), "people", "must be an array"),
        (top(people=["p1"]), "people[0]", "must be an object"),
        (top(program={"kind": "coffee", "never_met": 5}), "program.never_met", "unknown key"),
        (top(program={"weights": {"charisma": 1}}), "program.weights.charisma", "unknown key"),
        (top(program={"weights": {"never_met": "lots"}}), "program.weights.never_met", "must be a number"),
        (top(program={"kind": "tea"}), "program.kind", "unknown program kind"),
        (top(program={"group_size": 5}), "program.group_size", "must be 2 (pairs), 3 or 4 (groups), not 5"),
        (top(program={"group_size": 1}), "program.group_size", "must be 2 (pairs), 3 or 4 (groups), not 1"),
        (top(program={"duration_minutes": 5}), "program.duration_minutes", "between 10 and 180"),
        (top(program={"relax": "always"}), "program.relax", "relax must be one of"),
        (top(program={"cooldown_cycles": -1}), "program.cooldown_cycles", "must not be negative"),
        (top(program={"cooldown_cycles": "6"}), "program.cooldown_cycles", "must be an integer"),
        (top(seed=1.5), "seed", "must be an integer"),
        (top(today="next monday"), "today", "not a date"),
        (top(window=window(), today="2026-11-23"), "today", "leave it out"),
        (top(window={"start": "2026-11-23T00:00:00Z"}), "window.end", "is required"),
        (top(window={"start": "2026-11-23T00:00:00", "end": "2026-11-24T00:00:00Z"}), "window.start",
         "no time zone"),
        (top(window={"start": "2026-11-23T00:00:00Z", "end": "2026-11-22T00:00:00Z"}), "window.end",
         "must be after the start"),
        (top(window={"start": "2026-11-23T00:10:00Z", "end": "2026-11-24T00:00:00Z"}), "window.start",
         "quarter hour"),
        (person_drop(2, "id"), "people[2].id", "is required"),
        (person_change(2, id=""), "people[2].id", "must not be empty"),
        (person_change(2, id=7), "people[2].id", "must be a string"),
        (person_change(3, id="p1"), "people[3].id", "already the id of people[0]"),
        (person_drop(4, "team"), "people[4].team", "is required"),
        (person_change(4, team="  "), "people[4].team", "must not be empty"),
        (person_change(1, shoe_size=44), "people[1].shoe_size", "unknown key"),
        (person_change(5, timezone="Mars/Olympus"), "people[5].timezone", "unknown time zone"),
        (person_change(5, format="hybrid"), "people[5].format", "must be one of"),
        (person_change(5, kinds=["coffee", "tea"]), "people[5].kinds[1]", "must be one of"),
        (person_change(5, level=-1), "people[5].level", "must not be negative"),
        (person_change(5, manager="p99"), "people[5].manager", "'p99' is not the id of anyone"),
        (person_change(5, wishlist=["p2", "p77"]), "people[5].wishlist[1]", "'p77' is not the id of anyone"),
        (person_change(5, wishlist=["team:"]), "people[5].wishlist[0]", "names no team"),
        (person_change(5, blocked=["nobody"]), "people[5].blocked[0]", "not the id of anyone"),
        (person_change(5, interests="jazz"), "people[5].interests", "must be an array"),
        (person_change(5, working_hours={"days": ["mon", "caturday"]}), "people[5].working_hours.days[1]",
         "unknown day"),
        (person_change(5, working_hours={"start": "nine"}), "people[5].working_hours.start", "not a time"),
        (person_change(5, working_hours={"start": "17:00", "end": "09:00"}), "people[5].working_hours.end",
         "must be after the start"),
        (person_change(5, working_hours={"hours": 8}), "people[5].working_hours.hours", "unknown key"),
        (person_change(5, busy=[["2026-11-23T09:00:00Z"]]), "people[5].busy[0]", "must be a pair"),
        (person_change(5, busy="all week"), "people[5].busy", "must be an array"),
        (person_change(5, busy=[["2026-11-23T09:00:00Z", "noon"]]), "people[5].busy[0][1]",
         "not an ISO 8601 date-time"),
        (person_change(5, busy=[["2026-11-23T09:00:00", "2026-11-23T10:00:00Z"]]), "people[5].busy[0][0]",
         "no time zone"),
        (person_change(5, busy=[["2026-11-23T10:00:00Z", "2026-11-23T09:00:00Z"]]), "people[5].busy[0]",
         "ends before it starts"),
        (top(history={"members": ["p1", "p2"]}), "history", "must be an array"),
        (top(history=[{"members": ["p1", "p2"]}]), "history[0].cycles_ago", "is required"),
        (top(history=[{"members": ["p1", "p2"], "cycles_ago": 0}]), "history[0].cycles_ago", "1 (the previous"),
        (top(history=[{"members": ["p1", "px"], "cycles_ago": 1}]), "history[0].members[1]", "not the id of"),
        (top(history=[{"members": [], "cycles_ago": 1}]), "history[0].members", "at least one"),
        (top(history=[{"members": ["p1", "p1"], "cycles_ago": 1}]), "history[0].members", "twice"),
        (top(history=[{"members": ["p1", "p2"], "cycles_ago": 1, "when": "x"}]), "history[0].when",
         "unknown key"),
    ],
)
def test_every_error_names_its_place(change: Any, where: str, words: str) -> None:
    data = instance_data()
    change(data)

    with pytest.raises(InputError) as caught:
        load(data)

    assert caught.value.where == f"instance.json: {where}"
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"instance.json: {where}: ")


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        load_instance([1, 2], source="instance.json")
    assert caught.value.where == "instance.json"


# --- ids in, ids out ----------------------------------------------------------------------------------------


def test_ids_map_to_addresses_and_results_speak_ids_again() -> None:
    ids = ["p1", "Ana.Lopez@Example.com", "P1", "Zoë Ng", "=70", "x.y-z_9"]
    data = instance_data()
    for person, person_id in zip(data["people"], ids, strict=True):
        person["id"] = person_id
    data["people"][0]["wishlist"] = ["Zoë Ng"]

    instance = load(data)

    emails = [person.email for person in instance.people]
    assert len(set(emails)) == len(ids)  # "p1" and "P1" stay two people
    assert emails[0] == f"p1@{INVALID_DOMAIN}"
    assert emails[1] == "ana.lopez@example.com"  # an id that is an address is used as it is
    assert all(email.endswith(f"@{INVALID_DOMAIN}") for email in emails[2:])
    assert {instance.id_of[email] for email in emails} == set(ids)
    assert instance.people[0].wishlist == frozenset({instance.email_of["Zoë Ng"]})

    result = solve_instance(instance)
    seen = [member for group in result["groups"] for member in group["members"]]
    seen += [u["id"] for u in result["unmatched"]]
    assert sorted(seen) == sorted(ids)
    assert all("instance.invalid" not in member for member in seen)


def test_an_address_id_that_collides_with_another_id_is_a_duplicate() -> None:
    data = instance_data()
    data["people"][1]["id"] = f"P1@{INVALID_DOMAIN.upper()}"

    with pytest.raises(InputError) as caught:
        load(data)

    assert caught.value.where == "instance.json: people[1].id"


# --- history ------------------------------------------------------------------------------------------------


def test_history_within_the_cooldown_is_recent_and_every_pair_has_its_last_meeting() -> None:
    data = instance_data(
        program={"cooldown_cycles": 2, "cadence": "fortnightly"},
        today="2026-11-23",
        history=[
            {"members": ["p1", "p2"], "cycles_ago": 1},
            {"members": ["p3", "p4", "p5"], "cycles_ago": 2},
            {"members": ["p1", "p6"], "cycles_ago": 3},
            {"members": ["p1", "p6"], "cycles_ago": 5},
            {"members": ["p6"], "cycles_ago": 1},
        ],
    )
    instance = load(data)
    mail = instance.email_of

    def pair(a: str, b: str) -> frozenset[str]:
        return frozenset((mail[a], mail[b]))

    history = instance.history
    assert history.recent == {pair("p1", "p2"), pair("p3", "p4"), pair("p3", "p5"), pair("p4", "p5")}
    today = date(2026, 11, 23)
    assert history.last_met == {
        pair("p1", "p2"): today - timedelta(days=14),
        pair("p3", "p4"): today - timedelta(days=28),
        pair("p3", "p5"): today - timedelta(days=28),
        pair("p4", "p5"): today - timedelta(days=28),
        pair("p1", "p6"): today - timedelta(days=42),  # the latest of two meetings
    }
    assert history.left_over == frozenset({mail["p6"]})  # unmatched last cycle; the trio was two cycles ago


def test_a_trio_last_cycle_is_left_over() -> None:
    instance = load(instance_data(history=[{"members": ["p1", "p2", "p3"], "cycles_ago": 1}]))
    assert instance.history.left_over == frozenset(instance.email_of[i] for i in ("p1", "p2", "p3"))


def test_the_engine_keeps_the_cooldown_from_history() -> None:
    data = instance_data(history=[{"members": ["p1", "p2"], "cycles_ago": 6}, {"members": ["p3", "p4"],
                                                                               "cycles_ago": 1}])
    result = solve_instance(load(data))
    groups = {frozenset(group["members"]) for group in result["groups"]}
    assert frozenset({"p1", "p2"}) not in groups
    assert frozenset({"p3", "p4"}) not in groups


# --- solving ------------------------------------------------------------------------------------------------


def test_the_result_has_the_documented_shape() -> None:
    data = instance_data()
    data["people"].append({"id": "p7", "team": "Lunchers", "kinds": ["lunch"]})
    result = solve_instance(load(data))

    assert set(result) == {"groups", "unmatched", "notes", "stats"}
    assert sorted(m for g in result["groups"] for m in g["members"]) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    for group in result["groups"]:
        assert set(group) == {"members", "score", "reasons", "slot"}
        assert group["reasons"]
        assert group["slot"] is None  # no window, no slot
    assert result["unmatched"] == [{"id": "p7", "reason": "not eligible: does not take part in coffee meetings"}]
    stats = result["stats"]
    assert stats["people"] == 7
    assert stats["groups"] == 3
    assert stats["placed"] == 6
    assert stats["score"] == pytest.approx(sum(group["score"] for group in result["groups"]))
    assert 0 <= stats["cross_department_share"] <= 1
    assert 0 <= stats["cross_office_share"] <= 1
    assert stats["upper_bound"] >= stats["score"]
    assert 0 <= stats["gap"] < 1
    assert stats["seconds"] >= 0


def test_groups_of_three_come_with_slots_for_everyone_and_a_bound_that_says_what_it_is() -> None:
    data = instance_data(window=window(), program={"kind": "lunch", "group_size": 3})
    data["people"][0]["busy"] = [["2026-11-23T00:00:00Z", "2026-11-25T00:00:00Z"]]  # p1 away Mon-Tue
    data["people"].append({"id": "p7", "team": "Ops", "department": "Operations", "office": "London",
                           "timezone": LONDON})
    result = solve_instance(load(data))

    assert sorted(len(group["members"]) for group in result["groups"]) == [3, 4]  # 7 by 3
    assert sorted(m for g in result["groups"] for m in g["members"]) == [f"p{i}" for i in range(1, 8)]
    for group in result["groups"]:
        assert group["slot"] is not None
        assert any(reason.startswith("all free ") for reason in group["reasons"])
        if "p1" in group["members"]:
            assert group["slot"]["start"] >= "2026-11-25T00:00:00Z"
    stats = result["stats"]
    assert stats["upper_bound"] >= stats["score"] > 0
    assert "best partner scores" in stats["bound_method"]


def test_a_group_over_the_size_last_cycle_is_left_over_but_a_full_group_is_not() -> None:
    data = instance_data(program={"group_size": 3}, history=[
        {"members": ["p1", "p2", "p3"], "cycles_ago": 1}, {"members": ["p3", "p4", "p5", "p6"], "cycles_ago": 1}])
    instance = load(data)
    assert instance.history.left_over == frozenset(instance.email_of[i] for i in ("p3", "p4", "p5", "p6"))


def test_the_lp_bound_comes_quick_up_to_its_limit_and_tight_on_request() -> None:
    # Six people: above the exact optimum, and above the quick LP.
    limits = BoundLimits(matching_limit=3, quick_lp_limit=4)
    data = instance_data()
    for person in data["people"][1:]:  # one person in Sales is everyone's best partner: covers count it 5 times
        person["department"] = "Engineering"
    data["people"][0]["department"] = "Sales"
    quick = solve_instance(load(data), limits=limits)["stats"]
    tight = solve_instance(load(data), tight_bound=True, limits=limits)["stats"]
    assert not quick["bound_method"].startswith("LP dual")
    assert tight["bound_method"].startswith("LP dual")
    assert quick["score"] <= tight["upper_bound"] < quick["upper_bound"]


def test_the_bound_can_be_left_out() -> None:
    stats = solve_instance(load(instance_data()), bound=False)["stats"]
    assert stats["upper_bound"] is None
    assert stats["gap"] is None


def test_slots_come_only_with_a_window_and_respect_busy_times() -> None:
    data = instance_data(window=window(1))
    for person in data["people"]:  # everyone in London hours, busy all Monday except 14:00-15:00 UTC
        person["timezone"] = LONDON
        person["busy"] = [["2026-11-23T00:00:00Z", "2026-11-23T14:00:00Z"],
                          ["2026-11-23T15:00:00Z", "2026-11-24T00:00:00Z"]]

    result = solve_instance(load(data))

    assert len(result["groups"]) == 3
    free = (MONDAY + timedelta(hours=14), MONDAY + timedelta(hours=15))
    for group in result["groups"]:
        slot = group["slot"]
        start = datetime.fromisoformat(slot["start"])
        end = datetime.fromisoformat(slot["end"])
        assert slot["start"].endswith("Z")
        assert free[0] <= start < end <= free[1]
        assert end - start == timedelta(minutes=30)
        assert f"both free {start:%a %d %b %H:%M} Europe/London" in group["reasons"]  # the time is a reason too

    no_window = instance_data()
    for person in no_window["people"]:
        person["busy"] = [["2026-11-23T00:00:00Z", "2026-11-23T14:00:00Z"]]
    assert all(group["slot"] is None for group in solve_instance(load(no_window))["groups"])


def test_people_without_busy_data_are_planned_on_working_hours() -> None:
    data = instance_data(window=window(1))
    data["people"] = data["people"][:2]
    data["people"][0]["busy"] = [["2026-11-23T00:00:00Z", "2026-11-23T13:00:00Z"]]

    instance = load(data)
    result = solve_instance(instance)

    (group,) = result["groups"]
    start = datetime.fromisoformat(group["slot"]["start"])
    assert start >= MONDAY + timedelta(hours=13)  # after p1's busy morning, inside p2's Berlin day
    assert start.astimezone(instance.people[1].zone).time() < time(17, 0)


def test_people_with_no_common_free_time_are_not_paired() -> None:
    data = instance_data(window=window(1))
    data["people"] = copy.deepcopy(data["people"][:2])
    data["people"][0]["busy"] = [["2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"]]

    result = solve_instance(load(data))

    assert result["groups"] == []
    assert sorted(u["id"] for u in result["unmatched"]) == ["p1", "p2"]


def test_the_same_seed_gives_the_same_result() -> None:
    data = instance_data(seed=7, window=window())
    first, second = solve_instance(load(data)), solve_instance(load(copy.deepcopy(data)))
    for result in (first, second):
        for key in ("seconds", "pairing_seconds", "bound_seconds"):
            del result["stats"][key]
    assert first == second


def test_issue_zone_folder_names_the_place() -> None:
    """Regression: a folder of zones such as "Europe" crashed zoneinfo with IsADirectoryError."""
    data = {"program": {"kind": "coffee"}, "people": [{"id": "p1", "team": "a", "timezone": "Europe"}]}
    with pytest.raises(InputError, match=r"people\[0\]\.timezone.*unknown time zone 'Europe'"):
        load_instance(data, source="instance.json")
