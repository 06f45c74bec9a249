"""The accommodation request (ADA) [seed: Reasonable accommodations II.B–F].

Only the employee discloses and requests; the interactive discussion is recorded;
`hr` grants, offers an alternative, or denies stating the undue hardship; the employee
may decline what is offered or granted. Every event is encrypted under the separate
medical key, and the views keep the condition in the confidential file
(29 CFR 1630.14): a supervisor sees the accommodation, never the condition.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import KEK_MEDICAL, ProtectedAggregate
from domain.errors import InvalidInput, OutOfOrder, PermissionDenied, RuleViolation
from domain.staff.aggregate import staff_uuid

HR_ROLE = "hr"
FILED, OFFERED, OFFER_DECLINED = "filed", "offered", "offer_declined"
GRANTED, DENIED, DECLINED = "granted", "denied", "declined"
#: Statuses in which hr can still offer, grant or deny.
OPEN_STATUSES = (FILED, OFFERED, OFFER_DECLINED)


def _require_text(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidInput(f"{field} must not be blank")
    return value.strip()


def _require_aware(at: datetime, field: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{field} must be a timezone-aware date and time")


def not_yours(request_id: object) -> PermissionDenied:
    """The one refusal for anyone outside a file, whether or not the id names one: it
    names neither the employee nor whether the request exists."""
    return PermissionDenied(
        "medical_file",
        f"accommodation request {request_id} is in the confidential medical file: only the "
        "employee, hr and the employee's supervisor (the accommodation only) may see it, and "
        "only the employee and hr write in it",
    )


class AccommodationRequest(ProtectedAggregate):
    """One employee's request for a reasonable accommodation; its data subject is the
    employee, and its key the medical one."""

    kek = KEK_MEDICAL

    @event("Filed")
    def __init__(
        self,
        id: UUID,  # given by the application; the library keeps it out of the event
        employee_id: str,
        condition: str,
        requested: str,
        functions_affected: str | None,
        filed_on: date,
    ) -> None:
        del id
        self.employee_id = employee_id
        self.condition = condition
        self.requested = requested
        self.functions_affected = functions_affected
        self.filed_on = filed_on
        self.status = FILED
        self.notes: list[dict[str, Any]] = []
        self.offers: list[dict[str, Any]] = []
        self.decision: dict[str, Any] | None = None
        self.declines: list[dict[str, Any]] = []

    @classmethod
    def file(
        cls,
        request_id: UUID,
        actor_staff_id: str,
        employee_id: str,
        condition: str,
        requested: str,
        functions_affected: str | None,
        filed_on: date,
    ) -> AccommodationRequest:
        """Disclosure and request are the employee's own steps [II.B–C]: nobody files
        on an employee's behalf."""
        if actor_staff_id != employee_id:
            raise RuleViolation(
                "employee_only",
                f"only employee {employee_id} can disclose a disability and request an "
                f"accommodation; staff member {actor_staff_id} cannot file it for them",
            )
        affected = functions_affected.strip() if functions_affected else None
        return cls(
            id=request_id,
            employee_id=_require_text(employee_id, "employee_id"),
            condition=_require_text(condition, "the disclosed condition"),
            requested=_require_text(requested, "the requested accommodation"),
            functions_affected=affected or None,
            filed_on=filed_on,
        )

    @property
    def data_subject_id(self) -> UUID:
        """The employee: shredding the employee's keys shreds the medical file too."""
        return staff_uuid(self.employee_id)

    # -- rules ----------------------------------------------------------------------
    def _require_hr(self, actor_staff_id: str, actor_roles: list[str], action: str) -> None:
        if HR_ROLE not in actor_roles:
            raise PermissionDenied("hr_only", f"only hr can {action} an accommodation request")
        if actor_staff_id == self.employee_id:
            raise RuleViolation(
                "no_self_decision",
                f"staff member {actor_staff_id} cannot {action} their own accommodation request",
            )

    def _require_employee(self, actor_staff_id: str, action: str) -> None:
        if actor_staff_id != self.employee_id:
            raise not_yours(self.id)

    def _require_open(self, action: str) -> None:
        if self.status not in OPEN_STATUSES:
            raise OutOfOrder(
                f"accommodation request {self.id} was already {self.status}; "
                f"it cannot {action} again"
            )

    # -- the interactive discussion [II.D] -------------------------------------------
    def add_note(
        self, author_staff_id: str, author_roles: list[str], text: str, at: datetime
    ) -> None:
        """The discussion is between the employee and hr; nobody else writes in the file."""
        if author_staff_id == self.employee_id:
            role = "employee"
        elif HR_ROLE in author_roles:
            role = HR_ROLE
        else:
            raise not_yours(self.id)
        _require_aware(at, "the note time")
        self._add_note(author_staff_id, role, _require_text(text, "the note"), at)

    @event("NoteAdded")
    def _add_note(self, author_staff_id: str, role: str, text: str, at: datetime) -> None:
        self.notes.append({"author": author_staff_id, "role": role, "text": text, "at": at})

    # -- hr's side --------------------------------------------------------------------
    def offer(
        self, actor_staff_id: str, actor_roles: list[str], accommodation: str, at: datetime
    ) -> None:
        """hr may propose an alternative; the employee may accept it (hr then grants it)
        or decline it [II.F]."""
        self._require_hr(actor_staff_id, actor_roles, "offer")
        self._require_open("be offered an alternative")
        _require_aware(at, "the offer time")
        self._offer(actor_staff_id, _require_text(accommodation, "the offered accommodation"), at)

    @event("Offered")
    def _offer(self, offered_by: str, accommodation: str, at: datetime) -> None:
        self.offers.append({"accommodation": accommodation, "offered_by": offered_by, "at": at})
        self.status = OFFERED

    def grant(
        self,
        actor_staff_id: str,
        actor_roles: list[str],
        accommodation: str,
        effective_on: date,
        at: datetime,
    ) -> None:
        """The agreed change [II.A] may differ from what was asked for."""
        self._require_hr(actor_staff_id, actor_roles, "grant")
        self._require_open("be decided")
        _require_aware(at, "the decision time")
        if effective_on < self.filed_on:
            raise InvalidInput(
                f"the effective date {effective_on} is before the request was filed "
                f"on {self.filed_on}"
            )
        agreed = _require_text(accommodation, "the granted accommodation")
        self._grant(actor_staff_id, agreed, effective_on, at)

    @event("Granted")
    def _grant(self, decided_by: str, accommodation: str, effective_on: date, at: datetime) -> None:
        self.decision = {
            "outcome": GRANTED,
            "accommodation": accommodation,
            "effective_on": effective_on,
            "undue_hardship": None,
            "decided_by": decided_by,
            "at": at,
        }
        self.status = GRANTED

    def deny(
        self, actor_staff_id: str, actor_roles: list[str], undue_hardship: str, at: datetime
    ) -> None:
        """A denial is lawful only for undue hardship, "an action requiring significant
        difficulty or expense" [II.E]; the file must say what it was."""
        self._require_hr(actor_staff_id, actor_roles, "deny")
        self._require_open("be decided")
        _require_aware(at, "the decision time")
        if not undue_hardship.strip():
            raise RuleViolation(
                "denial_requires_undue_hardship",
                "a denial must state the undue hardship (significant difficulty or expense) "
                "the accommodation would impose",
            )
        self._deny(actor_staff_id, undue_hardship.strip(), at)

    @event("Denied")
    def _deny(self, decided_by: str, undue_hardship: str, at: datetime) -> None:
        self.decision = {
            "outcome": DENIED,
            "accommodation": None,
            "effective_on": None,
            "undue_hardship": undue_hardship,
            "decided_by": decided_by,
            "at": at,
        }
        self.status = DENIED

    # -- the employee's right to decline [II.F] ----------------------------------------
    @property
    def declinable(self) -> str | None:
        """What the employee can decline now: the open offer or the granted accommodation."""
        if self.status == OFFERED:
            return str(self.offers[-1]["accommodation"])
        if self.status == GRANTED and self.decision is not None:
            return str(self.decision["accommodation"])
        return None

    def decline(
        self, actor_staff_id: str, offered_accommodation: str, reason: str, at: datetime
    ) -> None:
        """The employee may refuse an accommodation it did not request or believes is not
        necessary; no reason is required of it."""
        self._require_employee(actor_staff_id, "decline an accommodation")
        _require_aware(at, "the decline time")
        current = self.declinable
        if current is None:
            raise OutOfOrder(
                f"request {self.id} is {self.status}: there is no offered or granted "
                "accommodation to decline"
            )
        if offered_accommodation.strip() != current:
            raise RuleViolation(
                "decline_names_current_offer",
                f"the accommodation declined does not match the one currently "
                f"{'offered' if self.status == OFFERED else 'granted'} on request {self.id}",
            )
        self._decline(current, reason.strip(), self.status, at)

    @event("Declined")
    def _decline(self, accommodation: str, reason: str, declined_from: str, at: datetime) -> None:
        self.declines.append(
            {"accommodation": accommodation, "reason": reason, "from": declined_from, "at": at}
        )
        self.status = OFFER_DECLINED if declined_from == OFFERED else DECLINED

    # -- views: medical information stays in the confidential file (29 CFR 1630.14) ----
    def _accommodation_summary(self) -> dict[str, Any]:
        decision = self.decision or {}
        return {
            "request_id": self.id,
            "employee_id": self.employee_id,
            "status": self.status,
            "requested": self.requested,
            "accommodation": decision.get("accommodation"),
            "effective_on": decision.get("effective_on"),
        }

    def for_supervisor(self) -> dict[str, Any]:
        """What a supervisor needs to put the accommodation in place, and nothing medical:
        no condition, no discussion, no hardship reasoning."""
        return self._accommodation_summary()

    def for_employee(self) -> dict[str, Any]:
        """Everything the employee wrote, what hr offered, and the decision with its reason;
        hr's own notes stay in hr's file."""
        return {
            **self._accommodation_summary(),
            "condition": self.condition,
            "functions_affected": self.functions_affected,
            "filed_on": self.filed_on,
            "notes": [dict(n) for n in self.notes if n["role"] == "employee"],
            "offers": [dict(o) for o in self.offers],
            "decision": dict(self.decision) if self.decision else None,
            "declines": [dict(d) for d in self.declines],
        }

    def for_hr(self) -> dict[str, Any]:
        """The whole confidential file."""
        return {**self.for_employee(), "notes": [dict(n) for n in self.notes]}
