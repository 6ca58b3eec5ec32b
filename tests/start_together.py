"""Run ``main.py`` once a go-file appears (``python tests/start_together.py GO_FILE arguments...``):
several of these started at once, everything imported, begin their command within a millisecond of
each other, which is what a race needs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import main  # noqa: E402
from cli import commands  # noqa: E402,F401  (import the command bodies before the start line)
from agents import runs  # noqa: E402,F401

if __name__ == "__main__":
    go = Path(sys.argv[1])
    deadline = time.time() + 120
    while not go.exists() and time.time() < deadline:
        time.sleep(0.0005)
    sys.exit(main.main(sys.argv[2:]))
