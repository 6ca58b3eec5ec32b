"""Run reports in the browser: ``RUN/report.html`` and a batch folder's ``index.html``.

Both are rebuilt from the folders alone, at any time (``python main.py report FOLDER``). The director
calls :func:`refresh_report` when a film is assembled and when a version is restored; a failure there
never breaks a render (it is reported and the page can be rebuilt later).
"""

from __future__ import annotations

import sys
from pathlib import Path

from report.html import REPORT, build_report


def write_report(run_dir: str | Path) -> Path:
    """Write ``RUN/report.html`` atomically; returns its path. Raises ``RunError`` when the folder is not a
    run or its manifest is missing or corrupt (see :func:`report.html.build_report`)."""
    from story.files import atomic_write_text

    out = Path(run_dir) / REPORT
    atomic_write_text(out, build_report(run_dir))
    return out


def refresh_report(run_dir: str | Path) -> Path | None:
    """:func:`write_report`, never raising: on any failure one line goes to stderr and None is returned."""
    try:
        return write_report(run_dir)
    except Exception as e:  # the report is derived data: never let it break a render or a revision
        print(f"note: report.html not updated ({type(e).__name__}: {e}); rebuild it with "
              f"`python main.py report {run_dir}`", file=sys.stderr)
        return None


__all__ = ["REPORT", "build_report", "refresh_report", "write_report"]
