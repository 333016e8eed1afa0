"""Launcher of the kstore controller-manager process: `python cmd/controller-manager.py --cluster <state>/cluster.json`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, when not pip-installed

from kstore.controllers.workloads.main import main  # noqa: E402

main()
