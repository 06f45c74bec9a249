"""Child process of the crash test: runs the read models (and a slow tally) to the end
of the log, then exits 0. The parent SIGKILLs it at random moments and restarts it.

    python -m tests.projection_worker DATABASE_URL KEY_DIR BATCH_SIZE
"""

from __future__ import annotations

import sys
from pathlib import Path

from ops.bootstrap import build
from ops.settings import Settings
from projections.runner import ProjectionRunner
from tests.projection_data import crash_models


def main(argv: list[str]) -> int:
    url, key_dir, batch_size = argv[1], Path(argv[2]), int(argv[3])
    system = build(Settings(database_url=url, key_dir=key_dir, log_level="WARNING"))
    try:
        ProjectionRunner(system, crash_models(system), batch_size=batch_size).catch_up()
    finally:
        system.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
