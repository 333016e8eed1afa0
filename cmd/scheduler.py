"""Launcher of the kstore scheduler process: `python cmd/scheduler.py --cluster <state>/cluster.json`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, when not pip-installed

from kstore.scheduler.main import main  # noqa: E402

main()
