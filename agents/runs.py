"""Start and resume runs: the operations behind ``main.py render``, ``main.py "logline"`` and
``main.py resume``. Domain errors are raised; ``main.py`` turns them into one-line messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
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
from story.io import bible_path_for, load_bible, read_script


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


@dataclass
class Story:
    """A script and its bible as ``render`` reads them."""

    script: StoryScript
    bible: Bible
    bible_source: str
    """``file`` or ``inferred``."""
    base: Path | None
    """The bible's folder (its reference image paths are relative to it), None for an inferred bible."""
    ignored: list[str] = dataclasses.field(default_factory=list)
    """Keys of the script file that are not ST-Bench fields and were left out (non-strict reading)."""

    def notices(self, script_path: str | Path) -> list[str]:
        """What the user should know about how the story was read (for the manifest and the summary)."""
        out = []
        if self.ignored:
            out.append(f"{Path(script_path).name}: ignored keys that are not ST-Bench fields: {', '.join(self.ignored)} "
                       "(pass --strict to refuse them)")
        if self.bible_source == "inferred":
            out.append("no bible file beside the script: characters were inferred from the prompts (write "
                       f"{bible_path_for(script_path).name} to control them)")
        return out

    def reference_problems(self) -> list[str]:
        """Every reference image of the bible that is missing or not a readable image."""
        from PIL import Image, UnidentifiedImageError

        problems = []
        for c in self.bible.characters:
            for ref in c.reference_images:
                src = (self.base / ref) if self.base and not Path(ref).is_absolute() else Path(ref)
                try:
                    with Image.open(src) as im:
                        im.verify()
                except FileNotFoundError:
                    problems.append(f"reference image {ref} of {c.name} not found (looked at {src})")
                except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
                    problems.append(f"reference image {ref} of {c.name} is not a readable image ({e})")
        return problems


def read_story(script_path: str | Path, bible_path: str | Path | None = None, *, strict: bool = True) -> Story:
    """The script, its bible (given, beside it as ``X.bible.json``, or inferred) and where the bible came
    from. ``strict=False`` reads the script as StoryMem does (JSON5, unknown keys left out and listed)."""
    script, ignored = read_script(script_path, strict=strict)
    if bible_path is None:
        beside = bible_path_for(script_path)
        bible_path = beside if beside.exists() else None
    if bible_path is not None:
        bible = load_bible(bible_path, script, json5=not strict)
        return Story(script, bible, "file", Path(bible_path).resolve().parent, ignored)
    return Story(script, infer_bible(script), "inferred", None, ignored)


def load_story(script_path: str | Path, bible_path: str | Path | None = None) -> tuple[StoryScript, Bible, str, Path | None]:
    """The script, its bible (given, beside it as ``X.bible.json``, or inferred) and where the
    bible came from ("file", "inferred") plus its folder (reference images are relative to it)."""
    story = read_story(script_path, bible_path)
    return story.script, story.bible, story.bible_source, story.base


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
    strict: bool = False,
) -> RunManifest:
    """``main.py render``: validate the script, create the run, render the film. ``strict``: refuse a
    script with keys that are not ST-Bench fields or JSON5 syntax (otherwise they are read and noted)."""
    events = events or NullEvents()
    story = read_story(script_path, bible_path, strict=strict)
    run = RunDir.create(out, source=str(script_path), settings=settings, script=story.script, bible=story.bible,
                        references_base=story.base)
    run.lock()
    try:
        for n in story.notices(script_path):
            run.manifest.notices.append(n)
            if story.ignored and n.startswith(Path(script_path).name):
                events.notice(n)
        rt = _runtime(run, opts, events, need_planner=False, plan=None)
        return drive(rt, fresh=True)
    finally:
        run.unlock()


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


def build_reviser(opts: BackendOptions):
    """The LLM reviser when a planner model is configured, else the command grammar."""
    if opts.llm_model:
        from agents.llm import LLMClient, LLMConfig
        from agents.reviser.llm import LLMReviser

        return LLMReviser(LLMClient(LLMConfig.from_env(model=opts.llm_model, base_url=opts.base_url, role="llm")))
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
        reviser = build_reviser(opts)
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
    from schemas.edit import VersionRecord

    run = _open_for_change(run_dir)
    try:
        m = run.manifest
        if m.status != "complete":
            raise RunError(f"{run.root} is not finished ({m.status}); resume it before undoing")
        record = next((r for r in reversed(versions.history(run)) if r.version == m.version and r.action == "revise"), None)
        if record is None or record.parent is None:
            raise RunError(f"{run.root} is at its first version; there is nothing to undo")
        current, parent = m.version, record.parent
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
