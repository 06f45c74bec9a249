"""Accommodation requests under the ADA: the employee's confidential medical file."""

from domain.accommodations.aggregate import AccommodationRequest
from domain.accommodations.application import AccommodationsApplication

__all__ = ["AccommodationRequest", "AccommodationsApplication"]
