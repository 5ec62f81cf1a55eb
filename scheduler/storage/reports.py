"""Read-only queries behind the admin's pages (``ports.ReportRepository``): a few aggregate reads that the
regular repositories, made for planning and delivering one cycle at a time, would answer row by row."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from scheduler.model import (
    CycleFact,
    EffectCount,
    MeetingFact,
    PairFact,
    RatingFact,
    SharedComment,
    ThanksCount,
)
from scheduler.storage.matches import FeedbackRatingRow
from scheduler.storage.orm import (
    CycleRow,
    FeedbackRow,
    GroupMemberRow,
    GroupRow,
    MeetingRow,
    OutboxEffectRow,
    PairingHistoryRow,
    PersonRow,
    UnmatchedRow,
)
from scheduler.storage.thanks import ThanksRow


class SqlAlchemyReportRepository:
    """Aggregates over cycles, meetings, feedback, pairing history and the outbox. Never writes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def cycles(self) -> list[CycleFact]:
        """Every cycle with how many it left unmatched, oldest window first."""
        unmatched = (select(UnmatchedRow.cycle_id, func.count().label("n"))
                     .group_by(UnmatchedRow.cycle_id).subquery())
        rows = self.session.execute(
            select(CycleRow.id, CycleRow.program, CycleRow.window_start, func.coalesce(unmatched.c.n, 0))
            .outerjoin(unmatched, unmatched.c.cycle_id == CycleRow.id)
            .order_by(CycleRow.window_start, CycleRow.id))
        return [CycleFact(id=i, program=p, window_start=w, unmatched=int(n)) for i, p, w, n in rows]

    def meetings(self) -> list[MeetingFact]:
        """Every meeting with its members' current department and team and its feedback counts."""
        answers = (select(FeedbackRow.meeting_id, func.count().label("answers"),
                          func.sum(case((FeedbackRow.met.is_(True), 1), else_=0)).label("met"))
                   .group_by(FeedbackRow.meeting_id).subquery())
        heads = self.session.execute(
            select(MeetingRow.id, MeetingRow.group_id, GroupRow.cycle_id, MeetingRow.state,
                   func.coalesce(answers.c.answers, 0), func.coalesce(answers.c.met, 0))
            .join(GroupRow, GroupRow.id == MeetingRow.group_id)
            .outerjoin(answers, answers.c.meeting_id == MeetingRow.id)
            .order_by(MeetingRow.id)).all()
        members: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for group_id, email, department, team in self.session.execute(
                select(GroupMemberRow.group_id, GroupMemberRow.email, PersonRow.department, PersonRow.team)
                .outerjoin(PersonRow, PersonRow.id == GroupMemberRow.person_id)
                .order_by(GroupMemberRow.group_id, GroupMemberRow.position)):
            members[group_id].append((email, department or "", team or ""))
        facts = []
        for _meeting_id, group_id, cycle_id, state, answered, met in heads:
            group = members[group_id]
            facts.append(MeetingFact(cycle_id=cycle_id, members=tuple(m[0] for m in group),
                                     departments=tuple(m[1] for m in group), teams=tuple(m[2] for m in group),
                                     state=state, answers=int(answered), met=int(met)))
        return facts

    def pairs(self) -> list[PairFact]:
        """Every pair of the pairing history, by cycle."""
        rows = self.session.execute(
            select(PairingHistoryRow.cycle_id, PairingHistoryRow.person_a, PairingHistoryRow.person_b)
            .order_by(PairingHistoryRow.cycle_id, PairingHistoryRow.id))
        return [PairFact(cycle_id=c, person_a=a, person_b=b) for c, a, b in rows]

    def effect_counts(self) -> list[EffectCount]:
        """Outbox effects counted by cycle and state."""
        rows = self.session.execute(
            select(OutboxEffectRow.cycle_id, OutboxEffectRow.state, func.count())
            .group_by(OutboxEffectRow.cycle_id, OutboxEffectRow.state))
        return [EffectCount(cycle_id=c, state=s, count=int(n)) for c, s, n in rows]

    def ratings(self, program: str | None = None) -> list[RatingFact]:
        """Every cycle (of ``program``, or of all) with how many "did you meet?" ratings it received and their
        average, oldest window first; a cycle without any rating has count 0 and average None."""
        given = (select(GroupRow.cycle_id, func.count(FeedbackRatingRow.rating).label("n"),
                        func.avg(FeedbackRatingRow.rating).label("mean"))
                 .select_from(FeedbackRatingRow)
                 .join(FeedbackRow, FeedbackRow.id == FeedbackRatingRow.feedback_id)
                 .join(MeetingRow, MeetingRow.id == FeedbackRow.meeting_id)
                 .join(GroupRow, GroupRow.id == MeetingRow.group_id)
                 .group_by(GroupRow.cycle_id).subquery())
        statement = (select(CycleRow.id, CycleRow.program, CycleRow.window_start, func.coalesce(given.c.n, 0),
                            given.c.mean)
                     .outerjoin(given, given.c.cycle_id == CycleRow.id)
                     .order_by(CycleRow.window_start, CycleRow.id))
        if program is not None:
            statement = statement.where(CycleRow.program == program)
        return [RatingFact(cycle_id=i, program=p, window_start=w, count=int(n),
                           average=None if mean is None else float(mean))
                for i, p, w, n, mean in self.session.execute(statement)]

    def shared_comments(self, cycle_id: int | None = None) -> list[SharedComment]:
        """The comments of "did you meet?" answers whose writers allowed the organisers to read them (of one
        cycle, or of all), oldest answer first, with the rating given alongside. Never a comment kept private,
        and never the writer's address."""
        statement = (select(GroupRow.cycle_id, FeedbackRow.comment, FeedbackRatingRow.rating, FeedbackRow.answered_at)
                     .select_from(FeedbackRow)
                     .join(MeetingRow, MeetingRow.id == FeedbackRow.meeting_id)
                     .join(GroupRow, GroupRow.id == MeetingRow.group_id)
                     .outerjoin(FeedbackRatingRow, FeedbackRatingRow.feedback_id == FeedbackRow.id)
                     .where(FeedbackRow.comment_shared.is_(True), FeedbackRow.comment != "")
                     .order_by(FeedbackRow.answered_at, FeedbackRow.id))
        if cycle_id is not None:
            statement = statement.where(GroupRow.cycle_id == cycle_id)
        return [SharedComment(cycle_id=c, comment=text, rating=rating, answered_at=at)
                for c, text, rating, at in self.session.execute(statement)]

    def thanks_counts(self) -> list[ThanksCount]:
        """Per program that has any, how many thank-you notes its meetings produced and how many were shared with
        the recipient's manager, by program name. Counts only: no address, and no text (none is stored)."""
        shared = func.sum(case((ThanksRow.shared_with_manager.is_(True), 1), else_=0))
        rows = self.session.execute(
            select(CycleRow.program, func.count(ThanksRow.id), shared)
            .select_from(ThanksRow)
            .join(MeetingRow, MeetingRow.id == ThanksRow.meeting_id)
            .join(GroupRow, GroupRow.id == MeetingRow.group_id)
            .join(CycleRow, CycleRow.id == GroupRow.cycle_id)
            .group_by(CycleRow.program)
            .order_by(CycleRow.program))
        return [ThanksCount(program=p, count=int(n), shared_with_manager=int(m or 0)) for p, n, m in rows]
