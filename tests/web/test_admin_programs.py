"""Changing a program on the admin's programs page, on SQLite and PostgreSQL: only admins, CSRF, errors next to
their field with nothing stored, only what differs from the file kept, the next cycle planned with the change,
"back to the file", and program names with a slash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scheduler.model import Person
from scheduler.programs.settings import EDITABLE, EDITABLE_FLAGS, WEIGHT_NAMES
from tests.web.conftest import Site, sign_up_and_confirm
from tests.web.test_admin import ADMIN, WEB, people, signed_in, token

TWO_PROGRAMS = ('[[programs]]\nname = "coffee"\ncooldown_cycles = 6\n\n'
                '[[programs]]\nname = "lunch/london"\nkind = "lunch"\nduration_minutes = 60\n')


@pytest.fixture
def admin_site(make_site: Callable[..., Site], database_url: str) -> Site:
    """A site with two programs (one with a slash in its name) whose ``client`` is signed in as the admin."""
    site = make_site(database_url=database_url, web=WEB, programs=TWO_PROGRAMS)
    assert sign_up_and_confirm(site, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    return site


def form_of(site: Site, name: str = "coffee", **changes: Any) -> dict[str, Any]:
    """The program's form as the page fills it in, with ``changes`` (weights as ``weight_<name>``)."""
    program = site.services.program(name)
    data: dict[str, Any] = {key: getattr(program, key) for key in EDITABLE if key not in EDITABLE_FLAGS}
    data |= {key: "y" for key in EDITABLE_FLAGS if getattr(program, key)}
    data |= {f"weight_{key}": getattr(program.weights, key) for key in WEIGHT_NAMES}
    data |= changes
    for key in EDITABLE_FLAGS:
        if data.get(key) is False:
            del data[key]  # an unticked box is not sent at all
    return {key: str(value) for key, value in data.items()}


def save(site: Site, name: str = "coffee", **changes: Any) -> Any:
    client = site.client
    return client.post(f"/admin/programs/{name}", data={**form_of(site, name, **changes), "action": "save",
                                                         "csrf_token": token(client, f"/admin/programs/{name}")})


def stored_changes(site: Site) -> dict[str, Any]:
    with site.services.uow_factory() as uow:
        return {change.name: dict(change.changes) for change in uow.program_changes.list()}


def test_an_admin_changes_a_program_and_only_the_differences_are_kept(admin_site: Site) -> None:
    answer = save(admin_site, cooldown_cycles=2, cadence="fortnightly", weight_never_met="7.5")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin/programs"

    program = admin_site.services.program("coffee")
    assert (program.cooldown_cycles, program.cadence, program.weights.never_met) == (2, "fortnightly", 7.5)
    assert program.duration_minutes == 30  # untouched settings keep the file's value
    assert stored_changes(admin_site) == {
        "coffee": {"cooldown_cycles": 2, "cadence": "fortnightly", "weights": {"never_met": 7.5}}}
    with admin_site.services.uow_factory() as uow:
        (change,) = uow.program_changes.list()
    assert change.changed_by == ADMIN
    assert change.changed_at == admin_site.services.clock.now()

    page = admin_site.client.get("/admin/programs").get_data(as_text=True)
    assert f"Changed on this site</strong> by {ADMIN}" in page
    assert "cadence, cooldown_cycles, weights.never_met" in page
    # The program's own page says what the file says for each changed setting.
    page = admin_site.client.get("/admin/programs/coffee").get_data(as_text=True)
    assert "The file says <code>6</code>" in page
    assert "The file says <code>weekly</code>" in page


def test_the_next_cycle_is_planned_with_the_change(admin_site: Site, create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 6))
    assert save(admin_site, cooldown_cycles=3, weight_shared_interest="2").status_code == 303
    client = admin_site.client
    assert client.post("/admin/cycles/coffee/run",
                       data={"csrf_token": token(client, "/admin/cycles/coffee")}).status_code == 303
    with admin_site.services.uow_factory() as uow:
        planned = uow.programs.get("coffee")  # the rules a cycle ran with are stored with it
        assert uow.cycles.list("coffee")
    assert planned is not None
    assert (planned.cooldown_cycles, planned.weights.shared_interest) == (3, 2.0)


def test_setting_everything_back_to_the_file_keeps_nothing(admin_site: Site) -> None:
    assert save(admin_site, cooldown_cycles=2).status_code == 303
    assert stored_changes(admin_site) != {}
    assert save(admin_site, cooldown_cycles=6).status_code == 303
    assert stored_changes(admin_site) == {}


def test_back_to_the_file_forgets_the_change_even_with_bad_values_in_the_form(admin_site: Site) -> None:
    assert save(admin_site, group_size=3, relax="never").status_code == 303
    client = admin_site.client
    answer = client.post("/admin/programs/coffee", data={
        "action": "reset", "group_size": "nine", "csrf_token": token(client, "/admin/programs/coffee")})
    assert answer.status_code == 303
    assert stored_changes(admin_site) == {}
    program = admin_site.services.program("coffee")
    assert (program.group_size, program.relax) == (2, "cooldown")
    assert "As the configuration file says" in client.get("/admin/programs").get_data(as_text=True)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("group_size", "5", "Give a number from 2 to 4."),
    ("group_size", "two", "Give a whole number from 2 to 4."),
    ("cooldown_cycles", "-1", "Give a number from 0 to 52."),
    ("duration_minutes", "", "Give a whole number."),
    ("window_days", "100", "Give a number from 1 to 28."),
    ("cadence", "hourly", "Not a valid choice."),
    ("relax", "always", "Not a valid choice."),
    ("weight_never_met", "lots", "Give a number from -50 to 50, such as 2.5."),
    ("weight_never_met", "1e9", "Give a number from -50 to 50."),
    ("weight_wishlist", "nan", "Give a number from -50 to 50."),
])
def test_a_bad_value_is_named_next_to_its_field_and_nothing_is_stored(admin_site: Site, field: str, value: str,
                                                                       message: str) -> None:
    answer = save(admin_site, **{"buffer_minutes": 10, field: value})  # a good change beside the bad one
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert f'<p class="error" id="{field}-error">{message}</p>' in html
    assert 'aria-invalid="true"' in html
    assert stored_changes(admin_site) == {}
    assert admin_site.services.program("coffee").buffer_minutes == 5


def test_only_admins_with_a_csrf_token_change_programs(admin_site: Site) -> None:
    stranger = admin_site.new_client("127.0.0.3")
    member = signed_in(admin_site, "bo.member@example.com", name="Bo Member")
    data = {**form_of(admin_site, cooldown_cycles=1), "action": "save"}
    assert stranger.get("/admin/programs/coffee").status_code == 302
    assert member.get("/admin/programs/coffee").status_code == 403
    assert member.post("/admin/programs/coffee", data={**data, "csrf_token": token(member, "/account")}
                       ).status_code == 403
    assert member.post("/admin/programs/coffee", data={"action": "reset", "csrf_token": token(member, "/account")}
                       ).status_code == 403
    for bad in ({}, {"csrf_token": "forged"}):
        assert admin_site.client.post("/admin/programs/coffee", data={**data, **bad}).status_code == 400
        assert admin_site.client.post("/admin/programs/coffee", data={"action": "reset", **bad}).status_code == 400
    assert stored_changes(admin_site) == {}


def test_unknown_program_is_404(admin_site: Site) -> None:
    client = admin_site.client
    assert client.get("/admin/programs/nope").status_code == 404
    data = {**form_of(admin_site), "csrf_token": token(client, "/admin/programs/coffee")}
    assert client.post("/admin/programs/nope", data=data).status_code == 404


def test_a_program_name_with_a_slash_is_previewed_run_and_changed(admin_site: Site,
                                                                  create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 4, kinds=frozenset({"lunch"})))
    client = admin_site.client
    cycles_page = client.get("/admin/cycles").get_data(as_text=True)
    assert 'href="/admin/cycles/lunch/london"' in cycles_page
    preview = client.get("/admin/cycles/lunch/london")
    assert preview.status_code == 200
    assert 'action="/admin/cycles/lunch/london/run"' in preview.get_data(as_text=True)
    assert save(admin_site, "lunch/london", group_size=3).status_code == 303
    assert admin_site.services.program("lunch/london").group_size == 3
    answer = client.post("/admin/cycles/lunch/london/run", data={"csrf_token": token(client, "/admin/cycles")})
    assert answer.status_code == 303
    with admin_site.services.uow_factory() as uow:
        assert len(uow.cycles.list("lunch/london")) == 1
        assert uow.cycles.list("coffee") == []
