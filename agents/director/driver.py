"""Run the director graph on a run directory, with LangGraph's SQLite checkpointer inside it.

``drive`` starts a fresh pass or continues the checkpointed one; ``revise`` runs a revision pass,
pausing at the review node for the person's answer. A missing or unreadable checkpoint database
never loses work: the graph restarts from ``plan`` and every shot whose accepted files still match
its inputs is reused as is (that is what the input hashes are for).

The manifest is the source of truth, the checkpoint only a hint of where the graph was. Checkpoints
are written synchronously (LangGraph's ``durability="sync"``: the default "async" writes them in a
background thread, so on a loaded machine a kill could leave the checkpoint several nodes behind the
manifest), and a checkpoint is continued only when it stands in the render loop: a revision pass
whose commit landed (the manifest is at the new version) but whose checkpoint still shows ``propose``
or ``review`` is finished by a fresh render pass, never by asking the revision again.
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
from agents.trace import traced
from agents.director.graph import build_graph
from agents.director.nodes import DirectorNodes
from agents.director.revision import RevisionNodes
from agents.director.runtime import Runtime
from schemas.run import RunManifest

RECURSION_LIMIT = 100_000
DURABILITY = "sync"
"""Checkpoint after every node before the next one starts (see the module docstring)."""
RENDER_LOOP = frozenset({"plan", "prepare", "render", "extract", "critique", "apply_verdict", "update_memory",
                         "assemble"})
"""Nodes a checkpoint may be continued at by ``drive`` (the revision nodes never are)."""


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
        yield build_graph(traced(DirectorNodes(rt)), traced(RevisionNodes(rt)), checkpointer=saver)
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
                if run.manifest.status == "complete":
                    from report import refresh_report

                    refresh_report(run.root)  # the page the assemble node wrote, with the final wall time
        finally:
            conn.close()
            run.unlock()


def drive(rt: Runtime, *, fresh: bool = False) -> RunManifest:
    """Run the graph to the end of the film. ``fresh`` starts a new pass from ``plan``; otherwise
    an unfinished checkpoint of the render loop is continued, and anything else (a finished pass, a
    revision's checkpoint, none, an unreadable one) starts a new render pass on a new thread, which
    reuses every finished shot."""
    with _session(rt) as graph:
        m = rt.run.manifest
        config = _config(thread_id(m))
        try:
            snap = graph.get_state(config)
            following = set(snap.next or ())
            used = bool(snap.values)
        except Exception as e:  # unreadable checkpoint: a fresh pass reuses every finished shot
            rt.events.notice(f"could not read the checkpoint ({type(e).__name__}: {e}); continuing from the manifest")
            following, used = set(), True
        if not fresh and following and following <= RENDER_LOOP:
            graph.invoke(None, config, durability=DURABILITY)
        else:
            if used:
                m.thread = f"{m.run_id}-v{m.version}-{uuid.uuid4().hex[:6]}"
                rt.run.save()
                config = _config(m.thread)
            graph.invoke({}, config, durability=DURABILITY)
    return rt.run.manifest


def revise(rt: Runtime, request: str, confirm: Callable[[dict], bool]) -> tuple[dict, bool, RunManifest]:
    """One revision pass: propose, ask ``confirm(proposal)``, and on yes commit and render the new
    version. Returns the proposal, the answer and the manifest."""
    run = rt.run
    target = versions.next_version(run)
    thread = f"{run.manifest.run_id}-v{target}-{uuid.uuid4().hex[:6]}"
    config = _config(thread)
    with _session(rt, account=lambda: run.manifest.version == target) as graph:
        out = graph.invoke({"revision_request": request, "target_version": target, "thread": thread}, config,
                           durability=DURABILITY)
        pending = out.get("__interrupt__") if isinstance(out, dict) else None
        if not pending:
            raise RuntimeError("the revision pass ended without reaching review")
        proposal = pending[0].value
        approved = bool(confirm(proposal))
        graph.invoke(Command(resume=approved), config, durability=DURABILITY)
    return proposal, approved, run.manifest
