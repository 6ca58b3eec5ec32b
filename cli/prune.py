"""``python main.py prune RUN [--keep N]``: remove the files only old versions use, say what was freed."""

from __future__ import annotations

import argparse

from agents.director.prune import prune_run
from cli.commands import _console
from story.words import count as counted


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def cmd_prune(args: argparse.Namespace) -> int:
    console = _console()
    r = prune_run(args.run_dir, keep=args.keep)
    kept = ", ".join(f"v{v}" + (" (current)" if i == 0 else "") + (" (undo)" if v == r.undo_target else "")
                     for i, v in enumerate(r.kept))
    earlier = f"; v{', v'.join(map(str, r.earlier))} pruned before" if r.earlier else ""
    if not r.files and not r.pruned:
        console.print(f"Nothing to prune in {args.run_dir}: kept {kept}{earlier}.")
        return 0
    what = ", ".join(f"v{v}" for v in r.pruned) or "nothing new"
    console.print(f"[bold green]Pruned[/] {what}{earlier}: removed {counted(len(r.files), 'file')}, freed "
                  f"{_size(r.bytes_freed)} ({r.bytes_freed} bytes).")
    console.print(f"Kept whole: {kept}. `python main.py history {args.run_dir}` still lists every version; "
                  "pruned ones can no longer be restored.")
    return 0
