"""Start and resume runs: the operations behind ``main.py render``, ``main.py "logline"`` and
``main.py resume``. Domain errors are raised; ``main.py`` turns them into one-line messages."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from agents import doctor, trace
from agents.backends import BackendError, BackendOptions, build_backends
from agents.director.driver import drive
from agents.director.rundir import RunDir, RunError
from agents.director.runtime import Backends, Events, NullEvents, PlanRequest, Runtime
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


def _runtime(run: RunDir, opts: BackendOptions, events: Events, *, backends: Backends, notices: list[str],
             plan: PlanRequest | None) -> Runtime:
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


@contextmanager
def _starting(run: RunDir):
    """A new run's first pass: on any failure before a shot is rendered the run folder is removed
    again (:meth:`RunDir.abandon`), so re-running the command works; Ctrl-C keeps it for ``resume``."""
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException:
        run.abandon()
        raise
    finally:
        run.unlock()


def render_script(
    script_path: str | Path,
    out: str | Path,
    settings: RunSettings,
    opts: BackendOptions,
    *,
    bible_path: str | Path | None = None,
    events: Events | None = None,
    size_from_reference: bool = False,
    strict: bool = False,
) -> RunManifest:
    """``main.py render``: validate the script and the backends, create the run, render the film.
    ``size_from_reference`` (no ``--size`` given): a story with reference images renders at the first one's
    aspect, as StoryMem does. ``strict``: refuse a script with keys that are not ST-Bench fields or JSON5
    syntax (otherwise they are read and noted)."""
    events = events or NullEvents()
    story = read_story(script_path, bible_path, strict=strict)
    backends, notices = build_backends(opts, need_planner=False)  # before anything is written
    settings = settings.model_copy(update={"engine_requested": opts.engine})
    run = RunDir.create(out, source=str(script_path), settings=settings, script=story.script, bible=story.bible,
                        references_base=story.base)
    with _starting(run):
        for n in story.notices(script_path):
            run.manifest.notices.append(n)
            if story.ignored and n.startswith(Path(script_path).name):
                events.notice(n)
        _frame_references(run, size_from_reference)
        rt = _runtime(run, opts, events, backends=backends, notices=notices, plan=None)
        return drive(rt, fresh=True)


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
    backends, notices = build_backends(opts, need_planner=True)  # before anything is written
    settings = settings.model_copy(update={"engine_requested": opts.engine})
    run = RunDir.create(out, source=f"logline: {text}", settings=settings,
                        options={"plan": dataclasses.asdict(plan)})
    with _starting(run):
        rt = _runtime(run, opts, events, backends=backends, notices=notices, plan=plan)
        return drive(rt, fresh=True)


def resume_run(run_dir: str | Path, *, events: Events | None = None, overrides: dict | None = None,
               engine: str | None = None) -> RunManifest:
    """``main.py resume``: continue a run with the backends it was started with, on the engine its
    finished shots were rendered with (``engine``: another one, said and recorded)."""
    from agents.director import versions

    events = events or NullEvents()
    run = _open_for_change(run_dir)
    try:
        m = run.manifest
        report = _damage(run)
        if m.status == "complete" and report.ok:
            used = {st.engine or m.settings.engine for st in m.shots}
            if engine and engine != "auto" and used != {engine}:
                raise RunError(f"{run.root} is finished (rendered with {', '.join(sorted(used))}); --engine {engine} "
                               "only applies to a run that is not: render its script into a new --out instead")
            versions.finish(run)
            return run.manifest
        plan_rec = m.options.get("plan")
        plan = PlanRequest(**plan_rec) if plan_rec else None
        if not run.has_plan() and plan is None:
            raise RunError(f"{run.root} has no script and no logline to plan from; start a new run")
        need_planner = not run.has_plan()
        opts, backends, notices = _backends_for_change(run, overrides, engine, need_planner=need_planner)
        rt = _runtime(run, opts, events, backends=backends, notices=notices, plan=plan)
        if not report.ok:
            doctor.heal(rt, report)  # the same bytes back where it can; the pass re-renders the rest
        return drive(rt)
    finally:
        run.unlock()


def _damage(run: RunDir):
    """The run's check (:mod:`agents.doctor`); damage no command can repair is a one-line refusal."""
    report = doctor.check(run)
    if report.unrepairable:
        p = report.unrepairable[0]
        raise RunError(f"{run.root} is damaged: {p.path} is {p.state} and {p.remedy}; "
                       f"see `python main.py doctor {run.root}`")
    return report


def _backends_for_change(run: RunDir, overrides: dict | None, engine: str | None, *,
                         need_planner: bool = False, command: str = "resume") -> tuple[BackendOptions, Backends, list[str]]:
    """The run's stored options, on the engine its finished shots were rendered with: a run never
    changes engine silently. ``engine`` (``resume --engine``) switches on purpose, with a notice
    recorded in the manifest; without it, an engine that cannot run any more is a one-line refusal."""
    m = run.manifest
    opts = _stored_options(m, overrides)
    used = sorted({st.engine or m.settings.engine for st in m.shots if st.outputs.video})
    notices: list[str] = []
    if engine:
        opts.engine = engine
        backends, notices = build_backends(opts, need_planner=need_planner)
        now = backends.engine.name
        others = [u for u in used if u != now]
        msg = f"engine: --engine {engine} asked for, so this pass runs on the {now} engine"
        if others:
            msg += f" (finished shots were rendered with {', '.join(others)}: they are rendered again)"
        notices.append(msg)
        return opts, backends, notices
    if used:
        want = m.settings.engine if m.settings.engine in used else used[-1]
        opts.engine = want
        try:
            backends, notices = build_backends(opts, need_planner=need_planner)
        except BackendError as e:
            why = str(e).split(": ", 1)[-1]
            how = ("or pass `--engine preview` to `python main.py resume` to continue on another engine (its shots "
                   "are then rendered again)" if command == "resume" else
                   f"{command} renders with the engine the film was rendered with")
            raise RunError(
                f"{run.root} was rendered with the {want} engine, which cannot run now ({why}); make it available "
                f"again ({how})"
            ) from None
        return opts, backends, notices
    backends, notices = build_backends(opts, need_planner=need_planner)
    return opts, backends, notices


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
        report = _damage(run)
        opts, backends, notices = _backends_for_change(run, overrides, None, command="revise")
        reviser = build_reviser(opts, events)
        rt = Runtime(run=run, backends=backends, events=events, reviser=reviser)
        for n in notices:
            events.notice(n)
        if not report.ok:
            # Cheap exact repairs only; a damaged shot is in the forecast as re-rendered, and rendered
            # when the person confirms.
            doctor.heal(rt, report, render=False)
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
    trace.event("command undo")
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


def run_unfinished(run_dir: str | Path) -> str | None:
    """What of the current version is unfinished, in words (a render or revision stopped part-way;
    ``resume`` finishes it), or None when its film is made (:func:`agents.doctor.unfinished`)."""
    return doctor.unfinished(RunDir.open(run_dir))
