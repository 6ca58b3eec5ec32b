"""Run ``main.py`` with LangGraph's SQLite checkpoint writes slowed down, as on a loaded machine
(``python tests/slow_checkpoints.py SECONDS main.py-arguments...``). With LangGraph's default
"async" durability a checkpoint is then written well after the node that it follows: a kill in that
window leaves the checkpoint behind the manifest, which is the source of truth."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: E402


def _slow(fn, delay: float):
    def slow(self, *a, **k):
        time.sleep(delay)
        return fn(self, *a, **k)
    return slow


if __name__ == "__main__":
    delay = float(sys.argv[1])
    SqliteSaver.put = _slow(SqliteSaver.put, delay)
    SqliteSaver.put_writes = _slow(SqliteSaver.put_writes, delay)
    import main

    sys.exit(main.main(sys.argv[2:]))
