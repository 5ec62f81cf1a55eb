"""Benchmark: the pairing engine against what people use today, on the same generated organisations.

Each organisation is written as an instance file (docs/pairing-instance.md) and every method runs in a fresh
process on it, so time and peak memory belong to that method alone:

- coffeechat: ``scheduler.planning.instance.solve_instance`` (free-time index + engine + slot choice, and the engine
  alone in its own column; the bound is timed apart);
- shuffle and cut (Teams Icebreaker): shuffle, pair neighbours, keep only pairs no hard rule forbids;
- best of K shuffles (Lunch Roulette): K such shuffles, keep the one whose valid pairs score highest;
- networkx (Yelp Beans): ``networkx.max_weight_matching`` on every allowed pair, with ``--networkx``, only up
  to ``NETWORKX_LIMIT`` people (it takes minutes at 1,000) and only when networkx is installed.

Every score is the engine's own score of the valid groups, as a share of the certified upper bound of
``scheduler.pairing.bound`` for groupings of that method's shape: pairs (one trio for an odd count) for the
baselines, and as many trios as the engine made for the engine (a trio scores three pairs, so a bound for
pairs would not hold for it). No method can pass 100%. Peak memory is ``ru_maxrss`` of the fresh process
(the interpreter, reading the instance file and the method together) plus that of its largest child.

Usage: python bench/pairing.py [--sizes 1000,10000] [--shuffles 100] [--networkx] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the project is importable
    sys.path.insert(0, str(ROOT))

from scheduler.model import Person  # noqa: E402
from scheduler.pairing.bound import certified_bound  # noqa: E402
from scheduler.pairing.rules import hard_rule  # noqa: E402
from scheduler.pairing.score import score_pair  # noqa: E402
from scheduler.planning.instance import PairingInstance, free_time_index, load_instance, solve_instance  # noqa: E402

NETWORKX_LIMIT = 1000
# A Monday: the window is one working week.
WINDOW_START = datetime(2026, 11, 23, tzinfo=UTC)

# (office, time zone, share of people): three regions, one big office per region and smaller ones.
OFFICES = (
    ("London", "Europe/London", 0.30),
    ("Berlin", "Europe/Berlin", 0.12),
    ("Lisbon", "Europe/Lisbon", 0.06),
    ("New York", "America/New_York", 0.22),
    ("San Francisco", "America/Los_Angeles", 0.10),
    ("Bangalore", "Asia/Kolkata", 0.15),
    ("Singapore", "Asia/Singapore", 0.05),
)
# (department, share of people): one department is far bigger than the rest, as engineering usually is.
DEPARTMENTS = (
    ("Engineering", 0.38), ("Sales", 0.16), ("Operations", 0.12), ("Product", 0.08), ("Marketing", 0.08),
    ("Customer Success", 0.08), ("Finance", 0.05), ("People", 0.05),
)
INTERESTS = ("running", "chess", "books", "jazz", "climbing", "cooking", "film", "gardening", "cycling",
             "photography", "board games", "football", "yoga", "travel", "music", "coffee")
HOURS = ({"start": "09:00", "end": "17:00"}, {"start": "08:00", "end": "16:00"},
         {"start": "10:00", "end": "18:00"}, {"days": ["mon", "tue", "wed", "thu"], "start": "09:00", "end": "17:00"})


def generate_instance(size: int, seed: int) -> dict[str, Any]:
    """A realistic organisation of ``size`` people as instance data: skewed team sizes inside departments,
    teams mostly in one office, three time-zone regions, six cycles of history, wishlists, a few blocks,
    interests, levels and managers, a working week of busy times."""
    rng = random.Random(seed)
    teams: list[tuple[str, str, int]] = []  # (team, department, home office index)
    people: list[dict[str, Any]] = []
    office_weights = [share for _, _, share in OFFICES]
    interest_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(INTERESTS))]
    while len(people) < size:
        department = rng.choices([d for d, _ in DEPARTMENTS], [s for _, s in DEPARTMENTS])[0]
        home = rng.choices(range(len(OFFICES)), office_weights)[0]
        team_size = min(size - len(people), max(2, int(rng.paretovariate(1.6) * 4)))  # many small, few large
        team = f"{department[:3].lower()}-{len(teams)}"
        teams.append((team, department, home))
        lead = f"p{len(people)}"
        for member in range(team_size):
            office = home if rng.random() < 0.85 else rng.choices(range(len(OFFICES)), office_weights)[0]
            name, zone, _ = OFFICES[office]
            person: dict[str, Any] = {
                "id": f"p{len(people)}", "team": team, "department": department, "office": name,
                "timezone": zone, "level": rng.choices(range(1, 8), [8, 10, 8, 6, 4, 2, 1])[0],
                "interests": sorted(set(rng.choices(INTERESTS, interest_weights, k=rng.randint(1, 4)))),
                "working_hours": rng.choices(HOURS, [70, 10, 10, 10])[0],
            }
            fmt = rng.choices(["either", "virtual", "in_person"], [70, 22, 8])[0]
            if fmt != "either":
                person["format"] = fmt
            kinds = rng.choices([None, ["coffee"], ["lunch"]], [92, 5, 3])[0]
            if kinds is not None:
                person["kinds"] = kinds
            if member:
                person["manager"] = lead
            people.append(person)
    by_id = {person["id"]: person for person in people}
    ids = list(by_id)
    for person in people:
        if rng.random() < 0.10:
            choice = rng.random()
            if choice < 0.5:
                wish = rng.choice(ids)
                if wish != person["id"]:
                    person["wishlist"] = [wish]
            elif choice < 0.8:
                person["wishlist"] = [f"team:{rng.choice(teams)[0]}"]
            else:
                person["wishlist"] = [f"department:{rng.choice(DEPARTMENTS)[0]}"]
        if rng.random() < 0.005:
            other = rng.choice(ids)
            if other != person["id"]:
                person["blocked"] = [other]
        person["busy"] = _busy_week(rng, person)

    history = []
    for cycles_ago in range(1, 7):  # six past cycles of mostly-valid pairs, as an engine would have made
        order = ids[:]
        rng.shuffle(order)
        for a, b in zip(order[::2], order[1::2], strict=False):
            if by_id[a]["team"] != by_id[b]["team"]:
                history.append({"members": [a, b], "cycles_ago": cycles_ago})
    return {
        "program": {"kind": "coffee", "group_size": 2, "cooldown_cycles": 6, "cadence": "weekly",
                    "duration_minutes": 30, "meeting_mode": "virtual", "relax": "cooldown"},
        "window": {"start": _text(WINDOW_START), "end": _text(WINDOW_START + timedelta(days=5))},
        "seed": seed,
        "people": people,
        "history": history,
    }


def _busy_week(rng: random.Random, person: dict[str, Any]) -> list[list[str]]:
    """Three to twelve meetings of 30-120 minutes on working days, at UTC hours that fall in most zones'
    days (the exact local fit does not matter: busy time outside working hours is simply ignored)."""
    busy = []
    for _ in range(rng.randint(3, 12)):
        start = WINDOW_START + timedelta(days=rng.randrange(5), hours=rng.randrange(0, 22),
                                         minutes=rng.choice((0, 30)))
        busy.append([_text(start), _text(start + timedelta(minutes=rng.choice((30, 60, 60, 90, 120))))])
    return sorted(busy)


def _text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# -- the methods, each run in a fresh process ------------------------------------------------------------------


def _load(path: str) -> PairingInstance:
    return load_instance(json.loads(Path(path).read_text(encoding="utf-8")), source=path)


def _eligible(instance: PairingInstance) -> list[Person]:
    return [p for p in instance.people if p.ineligibility(instance.program, instance.today) is None]


def _score_pairs(instance: PairingInstance, free_time: Any, pairs: list[tuple[Person, Person]]) -> tuple[int, float]:
    """(pairs that break a hard rule, total engine score of the valid ones)."""
    invalid, total = 0, 0.0
    for a, b in pairs:
        if hard_rule(a, b, instance.program, instance.history, free_time) is not None:
            invalid += 1
        else:
            total += score_pair(a, b, instance.program, instance.history, instance.today, free_time,
                                explain=False).score
    return invalid, total


def _shuffled_pairs(people: list[Person], rng: random.Random) -> list[tuple[Person, Person]]:
    order = people[:]
    rng.shuffle(order)
    return list(zip(order[::2], order[1::2], strict=False))


def run_coffeechat(path: str, _options: dict[str, Any]) -> dict[str, Any]:
    instance = _load(path)
    started = time.perf_counter()
    result = solve_instance(instance, bound=False)
    seconds = time.perf_counter() - started
    stats = result["stats"]
    trios = sum(1 for group in result["groups"] if len(group["members"]) > 2)
    left_out = len(_eligible(instance)) - stats["placed"]
    # The plan's pairs, by position among the eligible: a start for the bound's column generation.
    position = {person.email: i for i, person in enumerate(_eligible(instance))}
    plan = [tuple(position[instance.email_of[member]] for member in group["members"][:2])
            for group in result["groups"]]
    return {"seconds": seconds, "pairing_seconds": stats["pairing_seconds"], "score": stats["score"],
            "placed": stats["placed"], "invalid": 0, "trios": trios, "left_out": left_out, "plan": plan}


def run_bound(path: str, options: dict[str, Any]) -> dict[str, Any]:
    instance = _load(path)
    people = _eligible(instance)
    free_time = free_time_index(instance, people)
    trios = len(people) % 2 if options["trios"] is None else options["trios"]
    started = time.perf_counter()
    bound = certified_bound(people, instance.program, instance.history, instance.today, free_time, trios=trios,
                            plan=options.get("plan", ()))
    return {"seconds": time.perf_counter() - started, "bound": bound.value, "method": bound.method, "trios": trios}


def run_shuffle(path: str, options: dict[str, Any]) -> dict[str, Any]:
    instance = _load(path)
    people = _eligible(instance)
    free_time = free_time_index(instance, people)
    rng = random.Random(options["seed"])
    started = time.perf_counter()
    best: tuple[float, int, int] | None = None
    for _ in range(options["shuffles"]):
        pairs = _shuffled_pairs(people, rng)
        invalid, total = _score_pairs(instance, free_time, pairs)
        if best is None or total > best[0]:
            best = (total, invalid, len(pairs) - invalid)
    assert best is not None
    total, invalid, valid = best
    return {"seconds": time.perf_counter() - started, "score": total, "placed": 2 * valid, "invalid": invalid}


def run_networkx(path: str, _options: dict[str, Any]) -> dict[str, Any]:
    import networkx  # type: ignore[import-untyped]

    instance = _load(path)
    people = _eligible(instance)
    free_time = free_time_index(instance, people)
    started = time.perf_counter()
    graph = networkx.Graph()
    for i, a in enumerate(people):
        for b in people[i + 1:]:
            if hard_rule(a, b, instance.program, instance.history, free_time) is None:
                score = score_pair(a, b, instance.program, instance.history, instance.today, free_time,
                               explain=False).score
                graph.add_edge(a.email, b.email, weight=score)
    matching = networkx.max_weight_matching(graph)
    total = sum(graph.edges[a, b]["weight"] for a, b in matching)
    return {"seconds": time.perf_counter() - started, "score": total, "placed": 2 * len(matching), "invalid": 0}


def _child(method: Callable[[str, dict[str, Any]], dict[str, Any]], path: str, options: dict[str, Any],
           queue: Any) -> None:
    figures = method(path, options)
    # Linux reports kilobytes: the peak resident set of this process, interpreter and instance included, plus
    # that of its largest child (the engine's forked block workers). Forked pages are shared until written,
    # so the sum overstates the peak a little: a figure on the safe side.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures["peak_mb"] = (own + children) / 1024
    queue.put(figures)


def measure(method: Callable[[str, dict[str, Any]], dict[str, Any]], path: str,
            options: dict[str, Any]) -> dict[str, Any]:
    """Run ``method`` in a fresh (spawned) process; its figures plus the process's peak memory."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(method, path, options, queue))
    process.start()
    figures: dict[str, Any] = queue.get()
    process.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated organisation sizes")
    parser.add_argument("--shuffles", type=int, default=100, help="K of best-of-K shuffles")
    parser.add_argument("--networkx", action="store_true",
                        help=f"also run networkx on all allowed pairs (up to {NETWORKX_LIMIT} people)")
    parser.add_argument("--keep", metavar="DIR", help="write the instance files here and keep them")
    args = parser.parse_args()
    try:
        import networkx  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        networkx_ok = False
    else:
        networkx_ok = True
    if args.networkx and not networkx_ok:
        print("networkx is not installed (pip install -e '.[dev]'): skipping it", file=sys.stderr)

    print("| people | method | seconds | of which pairing | peak MB | placed | rule-breaking pairs | score | "
          "% of bound |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for size in (int(s) for s in args.sizes.split(",")):
            path = folder / f"org-{size}.json"
            path.write_text(json.dumps(generate_instance(size, seed=size)), encoding="utf-8")
            ours = measure(run_coffeechat, str(path), {})
            # Pairs (one trio for an odd count) for the baselines; the engine's own shape when it made more
            # trios, since each trio adds a third pair score and the bound must allow for that.
            pairs_bound = measure(run_bound, str(path), {"trios": None, "plan": ours["plan"]})
            ours_bound = (pairs_bound if ours["trios"] <= pairs_bound["trios"]
                          else measure(run_bound, str(path), {"trios": ours["trios"], "plan": ours["plan"]}))
            rows = [(f"coffeechat ({_trios(ours['trios'])}, {ours['left_out']} left out)", ours, ours_bound)]
            rows.append((f"upper bound, {_trios(pairs_bound['trios'])} (certified: {pairs_bound['method']})",
                         _bound_row(pairs_bound), pairs_bound))
            if ours_bound is not pairs_bound:
                rows.append((f"upper bound, {_trios(ours['trios'])} (certified: {ours_bound['method']})",
                             _bound_row(ours_bound), ours_bound))
            rows.append(("shuffle and cut", measure(run_shuffle, str(path), {"shuffles": 1, "seed": size}),
                         pairs_bound))
            rows.append((f"best of {args.shuffles} shuffles",
                         measure(run_shuffle, str(path), {"shuffles": args.shuffles, "seed": size}), pairs_bound))
            if args.networkx and networkx_ok and size <= NETWORKX_LIMIT:
                rows.append(("networkx, all allowed pairs", measure(run_networkx, str(path), {}), pairs_bound))
            for name, figures, bound in rows:
                placed = "" if figures["placed"] is None else f"{figures['placed']:,}"
                invalid = "" if figures["invalid"] is None else f"{figures['invalid']:,}"
                share = 100 * figures["score"] / bound["bound"] if bound["bound"] else 0.0
                pairing_part = figures.get("pairing_seconds")
                pairing_text = "" if pairing_part is None else f"{pairing_part:.2f}"
                print(f"| {size:,} | {name} | {figures['seconds']:.2f} | {pairing_text} | {figures['peak_mb']:,.0f} | "
                      f"{placed} | {invalid} | {figures['score']:,.1f} | {share:.2f}% |", flush=True)


def _trios(count: int) -> str:
    return "1 trio" if count == 1 else f"{count} trios"


def _bound_row(bound: dict[str, Any]) -> dict[str, Any]:
    return {**bound, "score": bound["bound"], "placed": None, "invalid": None}

if __name__ == "__main__":
    main()
