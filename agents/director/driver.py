"""Run the director graph on a run directory, with LangGraph's SQLite checkpointer inside it.

``drive`` starts a fresh pass or continues the checkpointed one; ``revise`` runs a revision pass,
pausing at the review node for the person's answer. A missing or unreadable checkpoint database
never loses work: the graph restarts from ``plan`` and every shot whose accepted files still match
its inputs is reused as is (that is what the input hashes are for).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agents.director import versions
from agents.director.graph import build_graph
from agents.director.nodes import DirectorNodes
from agents.director.revision import RevisionNodes
from agents.director.runtime import Runtime
from schemas.run import RunManifest

RECURSION_LIMIT = 100_000


def thread_id(manifest: RunManifest) -> str:
    """The LangGraph thread of the current version's pass."""
    return manifest.thread or f"{manifest.run_id}-v{manifest.version}"


def _config(thread: str) -> dict:
    return {"configurable": {"thread_id": thread}, "recursion_limit": RECURSION_LIMIT}


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


@contextmanager
def _session(rt: Runtime, *, account: Callable[[], bool] = lambda: True) -> Iterator:
    """The compiled graph with its checkpointer, the run locked, wall time accounted in the
    manifest when ``account()`` says so (a revision that changed nothing leaves it untouched)."""
    run = rt.run
    run.lock()
    t0 = time.perf_counter()
    saver, conn = _open_saver(rt)
    try:
        yield build_graph(DirectorNodes(rt), RevisionNodes(rt), checkpointer=saver)
    except BaseException:
        run.reload()  # keep only what the nodes saved themselves
        raise
    finally:
        try:
            if account():
                run.manifest.wall_seconds += time.perf_counter() - t0
                run.save()
                if run.manifest.status == "complete" and versions.has_snapshot(run, run.manifest.version):
                    versions.snapshot_manifest(run)  # the kept version gets the final wall time too
        finally:
            conn.close()
            run.unlock()


def drive(rt: Runtime, *, fresh: bool = False) -> RunManifest:
    """Run the graph to the end of the film. ``fresh`` starts a new pass from ``plan``; otherwise
    an unfinished checkpoint is continued (and a finished or missing one starts a new pass)."""
    with _session(rt) as graph:
        config = _config(thread_id(rt.run.manifest))
        try:
            pending = bool(graph.get_state(config).next)
        except Exception as e:  # unreadable checkpoint: a fresh pass reuses every finished shot
            rt.events.notice(f"could not read the checkpoint ({type(e).__name__}: {e}); continuing from the manifest")
            pending = False
        graph.invoke(None if pending and not fresh else {}, config)
    return rt.run.manifest


def revise(rt: Runtime, request: str, confirm: Callable[[dict], bool]) -> tuple[dict, bool, RunManifest]:
    """One revision pass: propose, ask ``confirm(proposal)``, and on yes commit and render the new
    version. Returns the proposal, the answer and the manifest."""
    run = rt.run
    target = versions.next_version(run)
    thread = f"{run.manifest.run_id}-v{target}-{uuid.uuid4().hex[:6]}"
    config = _config(thread)
    with _session(rt, account=lambda: run.manifest.version == target) as graph:
        out = graph.invoke({"revision_request": request, "target_version": target, "thread": thread}, config)
        pending = out.get("__interrupt__") if isinstance(out, dict) else None
        if not pending:
            raise RuntimeError("the revision pass ended without reaching review")
        proposal = pending[0].value
        approved = bool(confirm(proposal))
        graph.invoke(Command(resume=approved), config)
    return proposal, approved, run.manifest
