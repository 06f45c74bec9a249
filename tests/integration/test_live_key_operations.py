"""Key rotation, retirement and shredding while the service serves: no request fails
because of them, and a new KEK version is picked up without a restart."""

from __future__ import annotations

import time
from datetime import date

from ops.bootstrap import System, build
from ops.keys.kek import FileKeySource
from ops.settings import Settings


def serving(settings: Settings) -> System:
    """The running service, with a short data-key cache (in production 300 s)."""
    return build(settings.model_copy(update={"data_key_cache_ttl_seconds": 0.05}))


def test_a_rotation_and_retirement_elsewhere_never_fail_the_running_service(
    backend: str, settings_for
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(backend)
    service = serving(settings)
    service.staff.hire("S-1", "Staff 1", "clinician", ["clinician"], date(2024, 1, 8))
    FileKeySource(settings.key_dir).create("events", 2, development=True)  # `keys rotate`:
    operator = build(settings)  # a new version, then a process that rewraps under it
    try:
        operator.keyring.rotate("events")  # every data key now wrapped by v2
        time.sleep(0.1)  # the service's unwrapped keys lapse
        assert service.staff.get("S-1").display_name == "Staff 1"  # v2 read from the key dir
        time.sleep(1.1)
        service.staff.hire("S-2", "Staff 2", "clinician", ["clinician"], date(2024, 1, 8))
        assert {s.name: s.current for s in service.keyring.status()}["events"] == 2
        assert operator.keyring.store.counts().get(("events", 1), 0) == 0  # new keys: v2
        FileKeySource(settings.key_dir).retire("events", 1)
        time.sleep(0.1)
        assert service.staff.get("S-2").display_name == "Staff 2"
    finally:
        service.close()
        operator.close()
