"""The accommodations context's application service: the employee's confidential
medical file, written only through the aggregate's rules and read through the view
that fits the reader [seed: Reasonable accommodations; 29 CFR 1630.14]."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from domain.accommodations.aggregate import HR_ROLE, AccommodationRequest, not_yours
from domain.base import ContextApplication
from domain.errors import NotFound
from domain.staff.aggregate import staff_uuid


def _nobody(employee_id: str) -> None:
    """No supervisor: the writers of a file are the employee and hr only."""
    return


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


class AccommodationsApplication(ContextApplication):
    name = "accommodations"

    def file(
        self,
        actor_staff_id: str,
        employee_id: str,
        condition: str,
        requested: str,
        functions_affected: str | None,
        filed_on: date,
    ) -> tuple[UUID, int]:
        """The employee discloses and requests; returns the new request's id and position."""
        request = AccommodationRequest.file(
            uuid4(), actor_staff_id, employee_id, condition, requested, functions_affected, filed_on
        )
        if not self.recorder.select_events(staff_uuid(employee_id), limit=1):
            raise NotFound(f"staff member {employee_id} does not exist")
        return request.id, self.commit(request)

    def add_note(
        self,
        request_id: UUID,
        author_staff_id: str,
        author_roles: list[str],
        text: str,
        at: datetime | None = None,
    ) -> int:
        request, _ = self.reachable(request_id, author_staff_id, author_roles, _nobody)
        request.add_note(author_staff_id, author_roles, text, _now(at))
        return self.commit(request)

    def offer(
        self,
        request_id: UUID,
        actor_staff_id: str,
        actor_roles: list[str],
        accommodation: str,
        at: datetime | None = None,
    ) -> int:
        request = self.get(request_id)
        request.offer(actor_staff_id, actor_roles, accommodation, _now(at))
        return self.commit(request)

    def grant(
        self,
        request_id: UUID,
        actor_staff_id: str,
        actor_roles: list[str],
        accommodation: str,
        effective_on: date,
        at: datetime | None = None,
    ) -> int:
        request = self.get(request_id)
        request.grant(actor_staff_id, actor_roles, accommodation, effective_on, _now(at))
        return self.commit(request)

    def deny(
        self,
        request_id: UUID,
        actor_staff_id: str,
        actor_roles: list[str],
        undue_hardship: str,
        at: datetime | None = None,
    ) -> int:
        request = self.get(request_id)
        request.deny(actor_staff_id, actor_roles, undue_hardship, _now(at))
        return self.commit(request)

    def decline(
        self,
        request_id: UUID,
        actor_staff_id: str,
        offered_accommodation: str | None,
        reason: str = "",
        at: datetime | None = None,
    ) -> int:
        """The employee declines an offer or grant; `offered_accommodation` (default: the
        current one) guards against declining a stale offer."""
        request, _ = self.reachable(request_id, actor_staff_id, [], _nobody)
        declined = offered_accommodation
        if declined is None:
            declined = request.declinable or ""
        request.decline(actor_staff_id, declined, reason, _now(at))
        return self.commit(request)

    def get(self, request_id: UUID, version: int | None = None) -> AccommodationRequest:
        """The aggregate (as of `version`, for replay); callers outside hr use `view`."""
        what = f"accommodation request {request_id}"
        request = self.load(request_id, what, version)
        if not isinstance(request, AccommodationRequest):
            raise NotFound(f"{what} does not exist")
        return request

    def view(self, request_id: UUID, viewer_staff_id: str, viewer_roles: list[str],
             supervisor_of: Callable[[str], str | None]) -> tuple[str, dict[str, Any]]:
        """The employee sees its own file (even when it works in hr), hr the whole file,
        the employee's supervisor the accommodation only; anyone else nothing. Returns
        which of those views it is, and the view."""
        request, viewer = self.reachable(request_id, viewer_staff_id, viewer_roles, supervisor_of)
        views = {"employee": request.for_employee, HR_ROLE: request.for_hr,
                 "supervisor": request.for_supervisor}
        return viewer, views[viewer]()

    def reachable(self, request_id: UUID, actor_staff_id: str, actor_roles: list[str],
                  supervisor_of: Callable[[str], str | None]) -> tuple[AccommodationRequest, str]:
        """The request and how the actor stands to it (employee, hr, supervisor); an id
        that names no request is refused to anyone but hr exactly like another's file."""
        try:
            request = self.get(request_id)
        except NotFound:
            if HR_ROLE in actor_roles:
                raise
            raise not_yours(request_id) from None
        if actor_staff_id == request.employee_id:
            return request, "employee"
        if HR_ROLE in actor_roles:
            return request, HR_ROLE
        if supervisor_of(request.employee_id) == actor_staff_id:
            return request, "supervisor"
        raise not_yours(request_id)
