"""Benchmark: our pairing engine against what people use today, on the same synthetic organisations.

Baselines, run in the same process on the same people and history:
- shuffle-and-cut (Teams Icebreaker): shuffle, pair neighbours, drop the odd person, no rules;
- best of N shuffles (Lunch Roulette): N random shuffles, keep the valid pairs, best total score.

Figures: wall time, people placed, pairs that break a hard rule (same team or met within the cooldown),
and the total soft-rule score of the valid pairs as a share of ours.
Usage: python bench/bench_pairing.py [--sizes 150,1000,2000] [--shuffles 100]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date

from scheduler.model import Person, Program
from scheduler.pairing import PairHistory, _hard_rule, _score, pair_people

TODAY = date(2026, 11, 22)
PROGRAM = Program("coffee", meeting_mode="virtual")


def organisation(size: int, seed: int) -> tuple[list[Person], PairHistory]:
    """Skewed teams inside departments and offices, and six cycles of past pairs."""
    rng = random.Random(seed)
    departments = ["Engineering", "Sales", "Product", "Operations"]
    offices = [("London", "Europe/London"), ("Berlin", "Europe/Berlin"), ("New York", "America/New_York")]
    teams = [(f"team-{i}", departments[i % 4]) for i in range(max(12, size // 12))]
    weights = [1 / (i + 1) ** 0.7 for i in range(len(teams))]  # a few big teams, many small ones
    people = []
    for i in range(size):
        team, department = rng.choices(teams, weights)[0]
        office, zone = offices[rng.randrange(3)]
        people.append(Person(email=f"p{i}@example.com", name=f"P {i}", team=team, department=department,
                             office=office, timezone=zone,
                             interests=frozenset(rng.sample(["jazz", "chess", "running", "books", "film"], 2))))
    recent: set[frozenset[str]] = set()
    for _ in range(6):
        order = people[:]
        rng.shuffle(order)
        recent.update(frozenset((a.email, b.email)) for a, b in zip(order[::2], order[1::2], strict=False))
    return people, PairHistory(recent=frozenset(recent))


def score_pairs(pairs: list[tuple[Person, Person]], history: PairHistory) -> tuple[int, float]:
    """(pairs breaking a hard rule, total score of the valid ones)."""
    invalid, total = 0, 0.0
    for a, b in pairs:
        if _hard_rule(a, b, PROGRAM, history, None) is not None:
            invalid += 1
        else:
            total += _score(a, b, PROGRAM, history, TODAY, None).score
    return invalid, total


def shuffle_and_cut(people: list[Person], rng: random.Random) -> list[tuple[Person, Person]]:
    order = people[:]
    rng.shuffle(order)
    return list(zip(order[::2], order[1::2], strict=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="150,1000,2000")
    parser.add_argument("--shuffles", type=int, default=100)
    args = parser.parse_args()
    print(f"{'people':>7} {'method':<26} {'seconds':>8} {'placed':>7} {'rule-breaking':>14} {'score % of ours':>16}")
    for size in (int(s) for s in args.sizes.split(",")):
        people, history = organisation(size, seed=size)

        started = time.perf_counter()
        ours = pair_people(people, PROGRAM, history=history, today=TODAY, seed=1)
        ours_seconds = time.perf_counter() - started
        ours_total = sum(g.score for g in ours.groups)
        ours_placed = sum(len(g.members) for g in ours.groups)
        print(f"{size:>7} {'coffeechat (max-weight)':<26} {ours_seconds:>8.2f} {ours_placed:>7} {0:>14} "
              f"{100.0:>15.1f}%")

        rng = random.Random(size)
        started = time.perf_counter()
        pairs = shuffle_and_cut(people, rng)
        seconds = time.perf_counter() - started
        invalid, total = score_pairs(pairs, history)
        print(f"{size:>7} {'shuffle and cut':<26} {seconds:>8.2f} {2 * (len(pairs) - invalid):>7} {invalid:>14} "
              f"{100 * total / ours_total:>15.1f}%")

        started = time.perf_counter()
        best_total, best_invalid, best_valid = -1.0, 0, 0
        for _ in range(args.shuffles):
            pairs = shuffle_and_cut(people, rng)
            invalid, total = score_pairs(pairs, history)
            if total > best_total:
                best_total, best_invalid, best_valid = total, invalid, len(pairs) - invalid
        seconds = time.perf_counter() - started
        print(f"{size:>7} {f'best of {args.shuffles} shuffles':<26} {seconds:>8.2f} {2 * best_valid:>7} "
              f"{best_invalid:>14} {100 * best_total / ours_total:>15.1f}%")


if __name__ == "__main__":
    main()
