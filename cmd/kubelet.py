"""Launcher of the kstore kubelet process: `python cmd/kubelet.py --cluster <state>/cluster.json --node NAME`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, when not pip-installed

from kstore.kubelet.main import main  # noqa: E402

main()
