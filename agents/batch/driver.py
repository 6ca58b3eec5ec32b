"""The Ray driver of a batch: one Ray task per film, the index kept by the driver alone.

``connect`` joins a cluster (``--ray-address``, or ``RAY_ADDRESS``) with a runtime environment that
makes every worker import this checkout's code, or starts a local one (``ray.init()``: the cores of
this machine) whose workers inherit that same path.
``run_batch`` submits :func:`film_task` for each film to run, asking Ray for ``num_cpus=1`` and
``num_gpus=--gpus`` per film (so Ray runs as many CPU-only preview films at once as there are cores,
and one GPU film per GPU), keeps at most ``--max-parallel`` films submitted, collects each outcome as
it arrives and writes ``DIR/batch.json`` after every change of a film's status. Workers report shot
progress to a :class:`~agents.batch.progress.ProgressBoard` actor that the driver polls.

A film's failure is its own (the worker returns it as an outcome; a crashed worker process becomes
that film's failure); nothing a film does stops the others. Ctrl-C cancels the running tasks (Ray
raises KeyboardInterrupt in them, so each film saves its state and unlocks its run folder like an
interrupted ``main.py render``), waits a few seconds for them, marks them interrupted, and returns;
running the same command again resumes them.

Reference: Ray Core tasks, actors, ``ray.wait``, ``ray.cancel`` and runtime environments
(docs.ray.io, "Tasks", "Actors", "Cancelling tasks", "Runtime environments").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agents.batch import BatchError
from agents.batch.index import LOGS, fill_from_manifest, now, save_index
from agents.batch.progress import ProgressBoard, ReportingEvents
from agents.batch.work import FilmJob, FilmOutcome, one_line, run_film
from schemas.batch import BatchIndex, FilmRecord, WorkerInfo
from story.files import atomic_write_text
from story.words import count as counted

CODE_ROOT = Path(__file__).resolve().parent.parent.parent
"""The checkout the driver runs from; workers get it first on their PYTHONPATH."""
OBJECT_STORE_BYTES = 128 * 1024**2
"""Object store of a local cluster: films pass only small dicts (frames stay in the run folders)."""


class BatchEvents(Protocol):
    """What the command's progress view is told (tests record it)."""

    def film_update(self, record: FilmRecord) -> None: ...
    def tick(self, index: BatchIndex, progress: dict[str, dict]) -> None: ...
    def notice(self, message: str) -> None: ...


class NullBatchEvents:
    def film_update(self, record: FilmRecord) -> None: ...
    def tick(self, index: BatchIndex, progress: dict[str, dict]) -> None: ...
    def notice(self, message: str) -> None: ...


# ---------------------------------------------------------------------------- the cluster


def worker_runtime_env(code_root: Path = CODE_ROOT) -> dict:
    """Workers import dailies from ``code_root`` (the driver's checkout), ahead of any installed
    copy; on a cluster of several machines the checkout must be on a filesystem they all mount
    (as DIR must be)."""
    paths = [str(code_root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(code_root)]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}


def _reachable(address: str, timeout_s: float = 3.0) -> str | None:
    """None if ``host:port`` accepts a TCP connection, else why not ("auto", ray:// and others pass)."""
    if address == "auto" or "://" in address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return None
    except ValueError:
        return f"{port!r} is not a port number"
    except OSError as e:
        return e.strerror or str(e)


def connect(address: str | None, *, num_cpus: int | None = None, code_root: Path = CODE_ROOT,
            timeout_s: float | None = None) -> bool:
    """Join the cluster at ``address``, or start a local one; True when this call started Ray (the
    caller shuts it down). An existing connection in this process (a notebook, the tests) is used as is.

    Raises :class:`BatchError` (one line) when Ray cannot start or the address cannot be reached.
    Ray's native join blocks (and retries for minutes) on an address that is open but not a Ray
    cluster; with ``timeout_s`` the process then exits with status 2 and one line on stderr, since
    that call cannot be interrupted. Ray's own console lines during the start are silenced (its
    logs stay in its session folder)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # local-first: no usage report unless asked
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    common = dict(logging_level=logging.ERROR, log_to_driver=False)
    what = f"the Ray cluster at --ray-address {address}" if address else "a local Ray cluster"
    env = worker_runtime_env(code_root)
    inherit: dict[str, str] = {}
    if address:
        why = _reachable(address)
        if why:
            raise BatchError(f"cannot reach {what} ({why}); start it with `ray start --head` there, or leave "
                             "--ray-address out to start a local one")
        kwargs = dict(address=address, runtime_env=env, **common)
    else:
        # A cluster started here inherits this process's environment (the raylet, and every worker it
        # starts, including the ones it prestarts during ray.init): no runtime environment is needed,
        # so the first films start on those prestarted workers (measured: ~3 s sooner under load).
        inherit = env["env_vars"]
        kwargs = dict(num_cpus=num_cpus, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, **common)
    saved = os.dup(2)
    timer = None
    if timeout_s:
        def give_up() -> None:
            os.write(saved, (f"error: {what} did not answer within {timeout_s:g} s; check the address (`ray status` "
                             "there) or leave --ray-address out to start a local one\n").encode())
            os._exit(2)

        timer = threading.Timer(timeout_s, give_up)
        timer.daemon = True
        timer.start()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    before = {k: os.environ.get(k) for k in inherit}
    os.environ.update(inherit)
    try:
        ray.init(**kwargs)
    except Exception as e:  # Ray raises many types (ConnectionError, RuntimeError, ValueError...)
        raise BatchError(one_line(f"could not start {what} ({type(e).__name__}: {e}); check `ray status`, free "
                                  "memory and /tmp space, or pass --ray-address of a running cluster")) from None
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        os.dup2(saved, 2)
        os.close(devnull)
        if timer is not None:
            timer.cancel()
        os.close(saved)
    return True


def shutdown() -> None:
    import ray

    ray.shutdown()


@dataclass(frozen=True)
class Cluster:
    cpus: float
    gpus: float
    nodes: int


def cluster_resources(gpus_per_film: int) -> Cluster:
    """What the cluster has; :class:`BatchError` if no node can run one film (``num_cpus=1``,
    ``num_gpus=gpus_per_film``), which Ray would otherwise leave waiting for ever."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    fits = [n for n in nodes if n["Resources"].get("CPU", 0) >= 1 and n["Resources"].get("GPU", 0) >= gpus_per_film]
    total = Cluster(sum(n["Resources"].get("CPU", 0) for n in nodes), sum(n["Resources"].get("GPU", 0) for n in nodes),
                    len(nodes))
    if not fits:
        if gpus_per_film:
            raise BatchError(f"each film asks for {counted(gpus_per_film, 'GPU')} (--gpus) but no node of the Ray cluster "
                             f"has that many ({counted(float(total.gpus), 'GPU')} in all); use --engine preview (--gpus 0) or join a "
                             "GPU cluster with --ray-address")
        raise BatchError("no node of the Ray cluster has a free CPU for a film; add a node or start Ray with CPUs")
    return total


# ---------------------------------------------------------------------------- the batch


@dataclass
class BatchRun:
    """What ``run_batch`` needs besides the index (all plain data)."""

    out: Path
    settings: dict
    options: dict
    gpus: int = 0
    max_parallel: int | None = None
    shots: int | None = None
    style: str | None = None
    poll_s: float = 0.5
    stop_grace_s: float = 30.0
    lock_wait_s: float = 60.0
    submitted: list[str] = field(default_factory=list)


def film_task(job: FilmJob, board) -> FilmOutcome:
    """The Ray task: :func:`~agents.batch.work.run_film` with progress sent to the board actor."""
    return run_film(job, ReportingEvents(job.key, lambda key, event: board.report.remote(key, event)))


def _job(run: BatchRun, rec: FilmRecord) -> FilmJob:
    return FilmJob(key=rec.key, run_dir=str((run.out / rec.run_dir).resolve()), source=rec.source.model_dump(),
                   settings=run.settings, options=run.options, shots=run.shots, style=run.style,
                   lock_wait_s=run.lock_wait_s)


def record_outcome(out: Path, rec: FilmRecord, outcome: FilmOutcome) -> None:
    """Apply a worker's outcome to the film's record (and its manifest's facts); write the traceback
    of an unexpected error to ``DIR/logs/<key>.txt``."""
    rec.status, rec.reason = outcome.status, outcome.reason
    if outcome.status == "interrupted" and not (out / rec.run_dir / "manifest.json").exists():
        rec.status, rec.reason = "pending", None  # stopped before its run folder existed: nothing to resume
    rec.task_seconds = round(rec.task_seconds + outcome.seconds, 3)
    if outcome.worker:
        rec.worker = WorkerInfo(**outcome.worker)
    rec.finished_at = now()
    if outcome.traceback:
        rel = f"{LOGS}/{rec.key}.txt"
        atomic_write_text(out / rel, outcome.traceback)
        rec.log = rel
    fill_from_manifest(rec, out)


def _failure_outcome(rec: FilmRecord, err: BaseException) -> FilmOutcome:
    import ray.exceptions as rex

    if isinstance(err, rex.TaskCancelledError):
        return FilmOutcome(key=rec.key, status="interrupted", reason="stopped by Ctrl-C; run the same command again to resume")
    if isinstance(err, (rex.WorkerCrashedError, rex.NodeDiedError, rex.OutOfMemoryError)):
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return FilmOutcome(key=rec.key, status="failed",
                           reason=one_line(f"its worker process died ({type(err).__name__}: {first}); re-run with "
                                           "--retry-failed to resume it"))
    return FilmOutcome(key=rec.key, status="failed", reason=one_line(f"Ray error: {type(err).__name__}: {err}"))


def run_batch(index: BatchIndex, todo: list[FilmRecord], run: BatchRun,
              events: BatchEvents | None = None) -> bool:
    """Render the films of ``todo`` on the connected Ray cluster, updating ``index`` (saved to
    ``run.out/batch.json`` after every change). Returns False when stopped by Ctrl-C (the running
    films are then marked interrupted), True otherwise (whatever each film's outcome)."""
    import ray

    events = events or NullBatchEvents()
    out = run.out

    def save() -> None:
        save_index(out, index)

    def update(rec: FilmRecord) -> None:
        save()
        events.film_update(rec)

    board = ray.remote(num_cpus=0)(ProgressBoard).remote()
    task = ray.remote(film_task).options(num_cpus=1, num_gpus=run.gpus, max_retries=0)
    pending = deque(todo)
    running: dict = {}  # ObjectRef -> FilmRecord
    limit = run.max_parallel or max(1, len(todo))

    def finish(ref) -> None:
        rec = running.pop(ref)
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayError as e:
            outcome = _failure_outcome(rec, e)
        record_outcome(out, rec, outcome)
        board.forget.remote(rec.key)
        update(rec)

    try:
        while pending or running:
            while pending and len(running) < limit:
                rec = pending.popleft()
                rec.status, rec.reason, rec.attempts = "queued", None, rec.attempts + 1
                rec.log = None
                running[task.remote(_job(run, rec), board)] = rec
                run.submitted.append(rec.key)
                update(rec)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=run.poll_s)
            for ref in ready:
                finish(ref)
            try:
                progress = ray.get(board.snapshot.remote(), timeout=10)
            except ray.exceptions.RayError:
                progress = {}
            for rec in running.values():
                p = progress.get(rec.key)
                if rec.status == "queued" and p and p.get("started"):
                    rec.status, rec.started_at = "running", now()
                    update(rec)
            events.tick(index, progress)
        return True
    except KeyboardInterrupt:
        _stop(running, finish, run, events)
        for rec in list(running.values()):  # still running after the grace period (force-cancelled)
            started = (out / rec.run_dir / "manifest.json").exists()
            rec.status = "interrupted" if started else "pending"
            rec.reason = "stopped by Ctrl-C; run the same command again to resume" if started else None
            fill_from_manifest(rec, out)
        save()
        return False


def _stop(running: dict, finish, run: BatchRun, events: BatchEvents) -> None:
    """Cancel the running films and give them ``stop_grace_s`` to save their state (a second
    Ctrl-C stops waiting); what is still running then is force-cancelled."""
    import ray

    events.notice(f"stopping {counted(len(running), 'film')} cleanly (Ctrl-C again to stop at once)")
    for ref in list(running):
        try:
            ray.cancel(ref)
        except Exception:
            pass
    deadline = time.monotonic() + run.stop_grace_s
    try:
        while running and time.monotonic() < deadline:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                finish(ref)
    except KeyboardInterrupt:
        pass
    for ref in list(running):
        try:
            ray.cancel(ref, force=True)
        except Exception:
            pass

