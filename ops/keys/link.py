"""Keyed hashes of staff ids under the Director's office key (DESIGN §3 item 6).

That a staff member is also a client is stored only as HMAC-SHA256(link key, staff
id). The link key is a data key wrapped by the `director` KEK, so without that KEK
no one can test whether a given staff member is linked to a subject.
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import NAMESPACE_URL, uuid5

from domain.base import KEK_DIRECTOR, KeyScope
from domain.staff.ids import canonical_form
from ops.keys.keyring import Keyring

LINK_KEY_SUBJECT = uuid5(NAMESPACE_URL, "urn:sequester:staff-link-key")
LINK_SCOPE = KeyScope(KEK_DIRECTOR, LINK_KEY_SUBJECT)


class LinkHasher:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._key: bytes | None = None

    def __call__(self, staff_id: str) -> str:
        if self._key is None:
            self._key = self._keyring.secret(LINK_SCOPE)
        # canonical: a link made for Alice@Agency.example holds for alice@agency.example
        message = b"staff-link|" + canonical_form(staff_id).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
