"""Launcher of the kstore apistore process: `python cmd/apistore.py --cluster <state>/cluster.json`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, when not pip-installed

from kstore.apistore.main import main  # noqa: E402

main()
