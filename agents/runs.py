"""Start and resume runs: the operations behind ``main.py render``, ``main.py "logline"`` and
``main.py resume``. Domain errors are raised; ``main.py`` turns them into one-line messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from agents.backends import BackendOptions, build_backends
from agents.director.driver import drive
from agents.director.rundir import RunDir, RunError
from agents.director.runtime import Events, NullEvents, PlanRequest, Runtime
from schemas.bible import Bible
from schemas.run import RunManifest, RunSettings
from schemas.script import StoryScript
from story.cast import infer_bible
from story.io import bible_path_for, load_bible, load_script


def _public_url(url: str | None) -> str | None:
    """An endpoint URL without user:password (it may be written to the manifest)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _options_record(opts: BackendOptions) -> dict:
    rec = dataclasses.asdict(opts)
    rec["base_url"] = _public_url(opts.base_url)
    return rec


def load_story(script_path: str | Path, bible_path: str | Path | None = None) -> tuple[StoryScript, Bible, str, Path | None]:
    """The script, its bible (given, beside it as ``X.bible.json``, or inferred) and where the
    bible came from ("file", "inferred") plus its folder (reference images are relative to it)."""
    script = load_script(script_path)
    if bible_path is None:
        beside = bible_path_for(script_path)
        bible_path = beside if beside.exists() else None
    if bible_path is not None:
        return script, load_bible(bible_path, script), "file", Path(bible_path).resolve().parent
    return script, infer_bible(script), "inferred", None


def _runtime(run: RunDir, opts: BackendOptions, events: Events, *, need_planner: bool, plan: PlanRequest | None) -> Runtime:
    backends, notices = build_backends(opts, need_planner=need_planner)
    m = run.manifest
    fresh_info = dict(backends.info)
    if "planner" not in fresh_info and "planner" in m.backends:
        fresh_info["planner"] = m.backends["planner"]
    m.backends = fresh_info
    previous_plan = m.options.get("plan")
    m.options = _options_record(opts)
    if plan is not None or previous_plan:
        m.options["plan"] = dataclasses.asdict(plan) if plan is not None else previous_plan
    m.settings.engine = backends.engine.name
    for n in notices:
        if n not in m.notices:
            m.notices.append(n)
        events.notice(n)
    run.save()
    return Runtime(run=run, backends=backends, events=events, plan_request=plan)


def render_script(
    script_path: str | Path,
    out: str | Path,
    settings: RunSettings,
    opts: BackendOptions,
    *,
    bible_path: str | Path | None = None,
    events: Events | None = None,
    size_from_reference: bool = False,
) -> RunManifest:
    """``main.py render``: validate the script, create the run, render the film. ``size_from_reference``
    (no ``--size`` given): a story with reference images renders at the first one's aspect, as StoryMem does."""
    events = events or NullEvents()
    script, bible, bible_source, base = load_story(script_path, bible_path)
    run = RunDir.create(out, source=str(script_path), settings=settings, script=script, bible=bible,
                        references_base=base)
    run.lock()
    try:
        if bible_source == "inferred":
            run.manifest.notices.append(
                "no bible file beside the script: characters were inferred from the prompts (write "
                f"{bible_path_for(script_path).name} to control them)"
            )
        _frame_references(run, size_from_reference)
        rt = _runtime(run, opts, events, need_planner=False, plan=None)
        return drive(rt, fresh=True)
    finally:
        run.unlock()


def _frame_references(run: RunDir, size_from_reference: bool) -> None:
    """Size the shots from the first reference image, or note the centre crop (engine.framing)."""
    from engine.framing import reference_framing

    refs = [run.path(ref) for c in run.bible().characters for ref in c.reference_images]
    s = run.manifest.settings
    (width, height), note = reference_framing(refs, None if size_from_reference else (s.width, s.height))
    run.manifest.settings = s.model_copy(update={"width": width, "height": height})
    if note and note not in run.manifest.notices:
        run.manifest.notices.append(note)
    run.save()


def film_from_logline(
    logline: str,
    out: str | Path,
    settings: RunSettings,
    opts: BackendOptions,
    *,
    shots: int | None = None,
    style: str | None = None,
    events: Events | None = None,
) -> RunManifest:
    """``main.py "LOGLINE"``: plan (in the graph's plan node), then render."""
    from agents.planner.logline import clean_logline

    events = events or NullEvents()
    text = clean_logline(logline)
    plan = PlanRequest(logline=text, shots=shots, style=style)
    run = RunDir.create(out, source=f"logline: {text}", settings=settings,
                        options={"plan": dataclasses.asdict(plan)})
    run.lock()
    try:
        rt = _runtime(run, opts, events, need_planner=True, plan=plan)
        return drive(rt, fresh=True)
    finally:
        run.unlock()


def resume_run(run_dir: str | Path, *, events: Events | None = None, overrides: dict | None = None) -> RunManifest:
    """``main.py resume``: continue a run with the backends it was started with."""
    events = events or NullEvents()
    run = _open_for_change(run_dir)
    try:
        m = run.manifest
        if m.status == "complete" and m.film and (run.root / m.film).exists():
            return m
        opts = _stored_options(m, overrides)
        plan_rec = m.options.get("plan")
        plan = PlanRequest(**plan_rec) if plan_rec else None
        if not run.has_plan() and plan is None:
            raise RunError(f"{run.root} has no script and no logline to plan from; start a new run")
        rt = _runtime(run, opts, events, need_planner=not run.has_plan(), plan=plan)
        return drive(rt)
    finally:
        run.unlock()


def _open_for_change(run_dir: str | Path) -> RunDir:
    """Open a run under its lock, finishing any committed-but-unapplied change first."""
    from agents.director import versions

    run = RunDir.open(run_dir)
    run.lock()
    try:
        run.reload()
        versions.recover(run)
        run.sweep_temporaries()
    except BaseException:
        run.unlock()
        raise
    return run


def build_reviser(opts: BackendOptions, events: Events | None = None):
    """The LLM reviser when a planner model is named or a base URL serves one, else the command grammar."""
    from agents.llm import llm_config

    config, found = llm_config(opts.llm_model, opts.base_url, role="llm")
    if config is not None:
        from agents.reviser.llm import LLMReviser

        return LLMReviser.connect(config, events=events, notices=found)
    from agents.reviser.grammar import GrammarReviser

    return GrammarReviser()


def revise_run(
    run_dir: str | Path,
    request: str,
    confirm,
    *,
    events: Events | None = None,
    overrides: dict | None = None,
) -> tuple[dict, bool, RunManifest]:
    """``main.py revise`` / one turn of ``chat``: propose edits for ``request``, ask ``confirm``,
    and on yes render the new version (only what the change touches)."""
    from agents.director.driver import revise

    events = events or NullEvents()
    run = _open_for_change(run_dir)
    try:
        opts = _stored_options(run.manifest, overrides)
        reviser = build_reviser(opts, events)
        backends, notices = build_backends(opts)
        rt = Runtime(run=run, backends=backends, events=events, reviser=reviser)
        for n in notices:
            events.notice(n)
        return revise(rt, request, confirm)
    finally:
        run.unlock()


def _stored_options(m: RunManifest, overrides: dict | None) -> BackendOptions:
    known = {f.name for f in dataclasses.fields(BackendOptions)}
    rec = {k: v for k, v in m.options.items() if k in known}
    rec.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return BackendOptions(**rec)


def undo_run(run_dir: str | Path) -> tuple[int, int]:
    """``main.py undo``: make the previous version current again. Returns (from, to)."""
    from agents.director import versions
    from agents.director.prune import pruned_versions, undo_target
    from schemas.edit import VersionRecord

    run = _open_for_change(run_dir)
    try:
        m = run.manifest
        if m.status != "complete":
            raise RunError(f"{run.root} is not finished ({m.status}); resume it before undoing")
        records = versions.history(run)
        parent = undo_target(records, m.version)
        if parent is None:
            raise RunError(f"{run.root} is at its first version; there is nothing to undo")
        if parent in pruned_versions(records):
            raise RunError(f"version {parent} of {run.root} was pruned (`prune` removed its shots and film), so undo "
                           "cannot return to it; nothing changed")
        current = m.version
        entry = VersionRecord(version=parent, action="undo", parent=current, at=versions.now())
        versions.restore(run, parent, history=versions.history(run) + [entry])
        return current, parent
    finally:
        run.unlock()


def run_history(run_dir: str | Path):
    """``main.py history``: the version records and the current version."""
    from agents.director import versions

    run = RunDir.open(run_dir)
    return versions.history(run), run.manifest.version
