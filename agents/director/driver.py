"""Run the director graph on a run directory, with LangGraph's SQLite checkpointer inside it.

``drive`` starts a fresh pass or continues the checkpointed one. A missing or unreadable checkpoint
database never loses work: the graph restarts from ``plan`` and every shot whose accepted files
still match its inputs is reused as is (that is what the input hashes are for).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone

from langgraph.checkpoint.sqlite import SqliteSaver

from agents.director.graph import build_graph
from agents.director.nodes import DirectorNodes
from agents.director.runtime import Runtime
from schemas.run import RunManifest

RECURSION_LIMIT = 100_000


def thread_id(manifest: RunManifest) -> str:
    """One LangGraph thread per film version."""
    return f"{manifest.run_id}-v{manifest.version}"


def _open_saver(rt: Runtime) -> tuple[SqliteSaver, sqlite3.Connection]:
    db = rt.run.checkpoint_db()
    try:
        conn = sqlite3.connect(str(db), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(conn)
        saver.setup()
        return saver, conn
    except sqlite3.DatabaseError as e:
        # Unreadable checkpoint: keep it for inspection, start a clean one; the manifest has the work.
        try:
            conn.close()
        except Exception:
            pass
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            p = db.with_name(db.name + suffix)
            if p.exists():
                p.rename(p.with_name(p.name + f".corrupt-{stamp}"))
        rt.events.notice(f"checkpoint database was unreadable ({e}); moved aside, continuing from the manifest")
        conn = sqlite3.connect(str(db), check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        return saver, conn


def drive(rt: Runtime, *, fresh: bool = False) -> RunManifest:
    """Run the graph to the end of the film. ``fresh`` starts a new pass from ``plan``; otherwise
    an unfinished checkpoint is continued (and a finished or missing one starts a new pass)."""
    run = rt.run
    run.lock()
    t0 = time.perf_counter()
    saver, conn = _open_saver(rt)
    try:
        graph = build_graph(DirectorNodes(rt), checkpointer=saver)
        config = {"configurable": {"thread_id": thread_id(run.manifest)}, "recursion_limit": RECURSION_LIMIT}
        try:
            pending = bool(graph.get_state(config).next)
        except Exception:
            pending = False
        try:
            if pending and not fresh:
                graph.invoke(None, config)
            else:
                graph.invoke({}, config)
        except BaseException:
            # Keep only what the nodes saved themselves; add the time spent.
            run.reload()
            raise
        return run.manifest
    finally:
        run.manifest.wall_seconds += time.perf_counter() - t0
        try:
            run.save()
        finally:
            conn.close()
            run.unlock()
