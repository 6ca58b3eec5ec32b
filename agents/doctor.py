"""Check and repair a run directory: the operations behind ``python main.py doctor RUN [--repair]``,
also run by ``resume`` and ``revise`` before they work on a run.

:func:`check` looks at every file the manifest names, with its content hash: the script and bible,
the memory bank and every keyframe image in it, each accepted shot's video and tail frames, the film,
the contact sheet and the kept copy of the current version. Each problem says what is missing or
corrupt and what will re-make it:

- ``script.json`` / ``bible.json`` / ``memory/bank.json``: copied back from ``versions/vN/`` (the kept
  copy of the current, finished version);
- a reference keyframe: made again from the run's ``refs/`` image (same bytes, checked);
- a shot's keyframe: extracted again from its shot's video (the frame it was taken from, same bytes);
- a shot's video or tail frames: the shot is rendered again from its recorded inputs. When the engine
  reproduces the recorded bytes (the preview engine always does) the files are put back as they were
  and nothing else changes; otherwise the shot becomes a new take in the current version and the shots
  whose inputs that changes are rendered again, as the director's input hashes decide;
- the film, the contact sheet: assembled again from the shots (the kept ``film_vN.mp4`` when it is
  the same film).

:func:`heal` does the exact repairs (the same bytes back); a director pass (:func:`repair_run`, or
``resume``) does the rest. Hashes missing from manifests written before they were recorded (tail
frames, contact sheet) are recorded on repair.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from agents.director import versions
from agents.director.integrity import file_ok, shot_problems
from agents.director.rundir import RunDir, RunError
from agents.director.runtime import Events, NullEvents, Runtime
from engine.memory import MemoryBank
from engine.video import load_image, read_video, save_png
from schemas.memory import Keyframe
from schemas.run import RunManifest
from story.files import atomic_replace, sha256_file, temp_path_for
from story.words import count as counted


@dataclass
class Problem:
    """One file that is not as the manifest records it."""

    path: str
    """Run-relative path."""
    state: Literal["missing", "corrupt"]
    what: str
    """What the file is, e.g. ``video of shot 02-01``."""
    remedy: str
    """What re-makes it, or why nothing can (then ``repairable`` is False)."""
    repairable: bool = True
    shot: str | None = None
    """The shot to render again, when that is the remedy."""


@dataclass
class Report:
    run: Path
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    """What was re-made, in words (after a repair)."""
    unfinished: str | None = None
    """Set when the current version has no film yet (a render or revision stopped part-way), in words;
    ``python main.py resume RUN`` finishes it. Not a damaged file, so :attr:`ok` leaves it out."""

    @property
    def ok(self) -> bool:
        """No file is missing or corrupt (an unfinished run can be ok: see :attr:`unfinished`)."""
        return not self.problems

    @property
    def unrepairable(self) -> list[Problem]:
        return [p for p in self.problems if not p.repairable]

    @property
    def rerender(self) -> list[str]:
        """Shots a repair renders again, in film order."""
        out: list[str] = []
        for p in self.problems:
            if p.shot and p.shot not in out:
                out.append(p.shot)
        return out


def _state_of(path: Path) -> Literal["missing", "corrupt"]:
    return "missing" if not path.exists() else "corrupt"


def _json_ok(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def _image_ok(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:  # noqa: BLE001 - any failure to decode is corruption
        return False


def _snapshot_file(run: RunDir, name: str) -> Path | None:
    """The kept copy of a state file of the current version, when the version is finished and kept."""
    m = run.manifest
    p = run.root / versions.VERSIONS / f"v{m.version}" / name
    return p if m.status == "complete" and p.is_file() and _json_ok(p) else None


def _reference_source(run: RunDir, k: Keyframe) -> Path | None:
    """The ``refs/`` image that makes reference keyframe ``k`` again with the same bytes."""
    try:
        bible = run.bible()
    except RunError:
        return None
    for c in bible.characters:
        if k.characters and c.name.casefold() not in [x.casefold() for x in k.characters]:
            continue
        for ref in c.reference_images:
            src = run.path(ref)
            if src.is_file() and _png_sha(load_image(src)) == k.sha256:
                return src
    return None


def _png_sha(frame) -> str:
    """SHA-256 of ``frame`` saved as the run saves PNGs."""
    tmp = temp_path_for(Path(tempfile.gettempdir()) / "dailies-doctor.png")
    try:
        save_png(frame, tmp, durable=False)
        return sha256_file(tmp)
    finally:
        tmp.unlink(missing_ok=True)


# -- check --------------------------------------------------------------------------------------------
def unfinished(run: RunDir) -> str | None:
    """None when the current version is finished (its film made), else what is unfinished, in words,
    e.g. ``version 2 (a revision) stopped part-way (1 of 8 shots still to render: 01-01); film.mp4 is still
    version 1's``. ``python main.py resume RUN`` finishes it (a killed ``render``, ``resume`` or ``revise``)."""
    m = run.manifest
    if m.status == "complete":
        return None
    left = [st.shot_id for st in m.shots if st.status != "accepted"]
    ids = ", ".join(left[:6]) + (", ..." if len(left) > 6 else "")
    progress = (f"{len(left)} of {counted(len(m.shots), 'shot')} still to render: {ids}" if left else
                "every shot done, the film not yet made") if m.shots else "stopped before the plan was written"
    if m.version == 1:
        return f"the run stopped part-way ({progress}); it has no film yet"
    try:
        record = next((r for r in reversed(versions.history(run)) if r.version == m.version and r.action == "revise"),
                      None)
    except RunError:
        record = None
    film = run.root / RunDir.FILM
    before = (f"; {film.name} is still version {record.parent}'s" if record is not None and record.parent
              and film.exists() else "")
    return f"version {m.version} (a revision) stopped part-way ({progress}){before}"


def check(run: RunDir) -> Report:
    """Every file the manifest of ``run`` names, checked (see the module docstring). Never raises for
    damage: each problem is in the report."""
    report = Report(run.root, unfinished=unfinished(run))
    m = run.manifest
    add = report.problems.append
    started = bool(m.shots) or (run.root / RunDir.SCRIPT).exists()

    # The script, the bible, the memory bank.
    for rel, what, needed in ((RunDir.SCRIPT, "the script", started), (RunDir.BIBLE, "the bible", started)):
        path = run.root / rel
        if not needed or (path.is_file() and _json_ok(path) and _loads(run, rel)):
            continue
        snap = _snapshot_file(run, rel)
        add(Problem(rel, _state_of(path), what, f"copy it back from versions/v{m.version}/{rel}" if snap else
                    "nothing can re-make it (no finished copy of this version is kept): restore it from a backup, or "
                    "start a new run", repairable=snap is not None))
    bank_path = MemoryBank.file(run.root)
    bank: MemoryBank | None = None
    rendered_any = any(st.outputs.video for st in m.shots)
    if bank_path.exists() or rendered_any:
        try:
            bank = MemoryBank.load(run.root)
        except ValueError:
            snap = _snapshot_file(run, "bank.json")
            add(Problem("memory/bank.json", _state_of(bank_path), "the memory bank",
                        f"copy it back from versions/v{m.version}/bank.json" if snap else
                        "nothing can re-make it (no finished copy of this version is kept): restore it from a backup, "
                        "or start a new run", repairable=snap is not None))
    keyframes = {k.id: k for k in bank.keyframes} if bank else {}

    # Reference keyframes (shot keyframes are checked with their shot).
    for k in keyframes.values():
        if k.source == "reference" and not file_ok(run.path(k.path), k.sha256):
            src = _reference_source(run, k)
            add(Problem(k.path, _state_of(run.path(k.path)), f"reference keyframe {k.id}",
                        f"make it again from {run.rel(src)}" if src else
                        f"nothing can re-make it (its refs/ image is gone): drop it with `python main.py revise "
                        f"{run.root} \"drop keyframe {k.id}\"` or restore the file", repairable=src is not None))

    # Shots (checked once the bank is readable: a repair puts the bank back first, then checks again).
    for st in m.shots:
        if st.status != "accepted" or bank is None:
            continue
        bad = shot_problems(run, st, keyframes)
        files_bad = [rel for rel, _ in bad if not rel.startswith("memory/")]
        for rel, state in bad:
            if rel.startswith("memory/"):
                kid = Path(rel).stem
                if kid in keyframes and not files_bad:
                    how = f"re-extract it from shot {st.shot_id}'s video (frame {keyframes[kid].frame_index})"
                    add(Problem(rel, state, f"keyframe {kid} of shot {st.shot_id}", how))
                else:
                    add(Problem(rel, state, f"keyframe {kid} of shot {st.shot_id}", f"re-render shot {st.shot_id}",
                                shot=st.shot_id))
                continue
            what = "video" if rel.endswith(".mp4") else "tail frame"
            add(Problem(rel, state, f"{what} of shot {st.shot_id}",
                        f"re-render shot {st.shot_id} (the same bytes when the engine reproduces them; otherwise a "
                        "new take, and the shots whose inputs change follow)", shot=st.shot_id))

    # The film, the contact sheet, the kept copy of this version.
    if m.status == "complete":
        film = run.root / (m.film or RunDir.FILM)
        if not file_ok(film, m.film_sha256):
            kept = run.root / versions.film_path(m.version)
            how = (f"copy it back from {kept.name}" if file_ok(kept, m.film_sha256) and m.film_sha256 else
                   "re-assemble the film from the shots")
            add(Problem(m.film or RunDir.FILM, _state_of(film), "the film", how))
        sheet = run.root / (m.contact_sheet or RunDir.CONTACT_SHEET)
        if not (file_ok(sheet, m.contact_sheet_sha256) and _image_ok(sheet)):
            add(Problem(m.contact_sheet or RunDir.CONTACT_SHEET, _state_of(sheet), "the contact sheet",
                        "re-make the contact sheet"))
        if versions.has_snapshot(run, m.version) or (run.root / versions.film_path(m.version)).exists():
            kept = run.root / versions.film_path(m.version)
            if m.film_sha256 and not file_ok(kept, m.film_sha256):
                add(Problem(kept.name, _state_of(kept), f"the kept film of version {m.version}",
                            "copy it from the film"))
            for name in versions.SNAPSHOT_FILES:
                p = run.root / versions.VERSIONS / f"v{m.version}" / name
                if not (p.is_file() and (_json_ok(p) if name.endswith(".json") else _image_ok(p))):
                    add(Problem(run.rel(p) if p.exists() else f"{versions.VERSIONS}/v{m.version}/{name}",
                                _state_of(p), f"the kept copy of version {m.version}",
                                "keep the version again from the current files"))
    try:
        versions.history(run)
    except RunError:
        add(Problem(versions.HISTORY, "corrupt", "the version history",
                    "nothing can re-make it: restore it from a backup (undo needs it to find earlier versions)",
                    repairable=False))
    return report


def _loads(run: RunDir, rel: str) -> bool:
    try:
        run.script() if rel == RunDir.SCRIPT else run.bible()
        return True
    except RunError:
        return False


# -- exact repairs ------------------------------------------------------------------------------------
def heal(rt: Runtime, report: Report | None = None, *, announce: bool = True, render: bool = True) -> Report:
    """Put back, byte for byte, every damaged file that can be re-made exactly (see the module
    docstring); returns the check that remains (what a director pass must still redo). ``render``:
    False renders nothing (a revision leaves damaged shots to its forecast, rendered once the person
    confirms). Run it under the run's lock."""
    run = rt.run
    report = report or check(run)
    if report.ok:
        _record_hashes(run)
        return report
    done: list[str] = []
    m = run.manifest
    for p in report.problems:
        if p.path in (RunDir.SCRIPT, RunDir.BIBLE, "memory/bank.json") and p.repairable:
            name = "bank.json" if p.path == "memory/bank.json" else p.path
            _copy_exact(_snapshot_file(run, name), run.root / p.path)
            done.append(f"{p.path}: copied back from versions/v{m.version}/{name}")
    run.reload()
    after = check(run)
    bank = MemoryBank.load(run.root) if not any(p.path == "memory/bank.json" for p in after.problems) else None

    if bank is not None:
        for p in after.problems:
            k = next((k for k in bank.keyframes if k.path == p.path and k.source == "reference"), None)
            if k is not None and p.repairable:
                src = _reference_source(run, k)
                save_png(load_image(src), run.path(k.path))
                done.append(f"{k.path}: made again from {run.rel(src)}")

    # Shots, in film order (a continuation needs its predecessor's tail frames back first).
    if bank is not None:
        from agents.director.nodes import DirectorNodes

        nodes = DirectorNodes(rt)
        for cursor, st in enumerate(run.manifest.shots):
            if st.status != "accepted":
                continue
            keyframes = {k.id: k for k in nodes.bank.keyframes}
            bad = shot_problems(run, st, keyframes)
            if not bad:
                continue
            files_bad = [r for r, _ in bad if r == st.outputs.video or r in st.outputs.tail or not r.startswith("memory/")]
            if files_bad and not (render and _rerender_exactly(nodes, cursor)):
                continue  # a director pass renders it as a new take
            if files_bad:
                done.append(f"shot {st.shot_id}: rendered again to the same bytes ({', '.join(files_bad)})")
            for rel, _ in shot_problems(run, st, keyframes):
                k = keyframes.get(Path(rel).stem)
                if k is not None and _reextract(run, st.outputs.video, k):
                    done.append(f"{rel}: re-extracted from shot {st.shot_id}'s video")

    m = run.manifest
    if m.status == "complete" and m.film_sha256:
        film, kept = run.root / (m.film or RunDir.FILM), run.root / versions.film_path(m.version)
        if not file_ok(film, m.film_sha256) and file_ok(kept, m.film_sha256):
            _copy_exact(kept, film)
            done.append(f"{film.name}: copied back from {kept.name}")
        snap = f"{versions.VERSIONS}/v{m.version}/"
        if file_ok(film, m.film_sha256) and any(p.path.startswith(snap) or p.path == kept.name for p in check(run).problems):
            versions.snapshot(run)
            done.append(f"version {m.version} kept again ({kept.name}, {snap})")
    remaining = check(run)
    remaining.repaired = done
    for line in done if announce else []:
        rt.events.notice(f"repaired {line}")
    return remaining


def _copy_exact(src: Path, dst: Path) -> None:
    tmp = temp_path_for(dst)
    shutil.copyfile(src, tmp)
    atomic_replace(tmp, dst)


def _rerender_exactly(nodes, cursor: int) -> bool:
    """Render the shot at ``cursor`` from its recorded inputs; when the engine gives back the recorded
    bytes, put its files back where the manifest says. False (nothing written) otherwise."""
    from agents.director.nodes import save_shot_files
    from agents.director.requests import input_hash

    run, st = nodes.run, nodes._state(cursor)
    out = st.outputs
    try:
        request = nodes.request_for(cursor)
    except RunError:
        return False
    if input_hash(request, nodes.rt.backends.engine_fingerprint) != st.input_hash or not out.video:
        return False
    frames = nodes.render_frames(request)
    final = [run.path(out.video)] + [run.path(t) for t in out.tail]
    temps = [temp_path_for(p) for p in final]
    try:
        video_sha, tail_sha, _ = save_shot_files(frames, request, temps[0], temps[1:])
        same = video_sha == out.video_sha256 and (not out.tail_sha256 or tail_sha == out.tail_sha256)
        if same:
            for tmp, dst in zip(temps, final):
                atomic_replace(tmp, dst)
            if not out.tail_sha256:
                out.tail_sha256 = tail_sha
                run.save()
        return same
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _reextract(run: RunDir, video_rel: str | None, k: Keyframe) -> bool:
    """Keyframe ``k`` again from frame ``k.frame_index`` of its shot's video, if that gives its bytes."""
    if not video_rel or k.frame_index is None:
        return False
    frames = read_video(run.path(video_rel))  # (F, H, W, 3)
    if not 0 <= k.frame_index < len(frames):
        return False
    dst = run.path(k.path)
    tmp = temp_path_for(dst)
    try:
        save_png(frames[k.frame_index], tmp, durable=False)
        if sha256_file(tmp) != k.sha256:
            return False
        atomic_replace(tmp, dst)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _record_hashes(run: RunDir) -> None:
    """Hashes that manifests written before they were recorded lack (tail frames, contact sheet)."""
    m: RunManifest = run.manifest
    changed = False
    for st in m.shots:
        out = st.outputs
        if out.tail and not out.tail_sha256 and all(_image_ok(run.path(t)) for t in out.tail):
            out.tail_sha256 = [sha256_file(run.path(t)) for t in out.tail]
            changed = True
    sheet = run.root / (m.contact_sheet or RunDir.CONTACT_SHEET)
    if m.status == "complete" and not m.contact_sheet_sha256 and sheet.is_file() and _image_ok(sheet):
        m.contact_sheet_sha256 = sha256_file(sheet)
        changed = True
    if changed:
        run.save()


# -- the operations behind the CLI ----------------------------------------------------------------
def check_run(run_dir: str | Path) -> Report:
    """``main.py doctor RUN``: the report, nothing changed (a committed change is finished first)."""
    from agents.runs import _open_for_change

    run = _open_for_change(run_dir)
    try:
        return check(run)
    finally:
        run.unlock()


def restore_manifest(run_dir: str | Path) -> int | None:
    """Put back the newest kept version's state when ``manifest.json`` is lost or corrupt: its script,
    bible, memory bank, contact sheet and film from ``versions/vN/`` and ``film_vN.mp4``, each file
    atomically, the manifest last (a kill before it leaves the run as broken as before, and the next
    repair does it again). Work of a later version that never finished is set aside, not deleted: its
    files stay and ``resume`` is not needed. Returns N, or None when the manifest is readable (nothing
    done) or no kept version can stand in (:meth:`RunDir.kept_version`)."""
    root = Path(run_dir)
    try:
        RunDir.open(root)
        return None
    except RunError:
        pass
    v = RunDir.kept_version(root) if root.is_dir() else None
    if v is None:
        return None
    from story.files import atomic_write_bytes

    folder = root / versions.VERSIONS / f"v{v}"
    kept = sorted(versions.SNAPSHOT_FILES.items(), key=lambda kv: kv[1] == RunDir.MANIFEST)  # manifest last
    film = root / versions.film_path(v)
    tmp = temp_path_for(root / RunDir.FILM)
    shutil.copyfile(film, tmp)
    atomic_replace(tmp, root / RunDir.FILM)
    for name, rel in kept:
        if (folder / name).is_file():
            atomic_write_bytes(root / rel, (folder / name).read_bytes())
    return v


def repair_run(run_dir: str | Path, *, events: Events | None = None) -> Report:
    """``main.py doctor RUN --repair``: the exact repairs, then a director pass for what is left (shots
    that render differently now, the film, the contact sheet), on the engine the shots were rendered
    with. Returns the check after the repair, with ``repaired`` listing what was re-made."""
    from agents.director.driver import drive
    from agents.runs import _backends_for_change, _open_for_change, _runtime

    events = events or NullEvents()
    restored = restore_manifest(run_dir)
    run = _open_for_change(run_dir)
    try:
        first = check(run)
        if restored is not None:
            first.repaired = [f"manifest.json put back from version {restored} (versions/v{restored}/)"]
        if first.unrepairable:
            first.repaired = first.repaired if restored is not None else []
            return first
        opts, backends, notices = _backends_for_change(run, None, None, command="doctor --repair")
        rt = _runtime(run, opts, events, backends=backends, notices=notices, plan=None)
        left = heal(rt, first, announce=False)
        done = ([f"manifest.json put back from version {restored} (versions/v{restored}/)"] if restored is not None
                else []) + list(left.repaired)
        if not left.ok or run.manifest.status != "complete":
            before = {st.shot_id: st.outputs.video_sha256 for st in run.manifest.shots}
            drive(rt)
            run.reload()
            again = [st.shot_id for st in run.manifest.shots if before.get(st.shot_id) != st.outputs.video_sha256]
            if again:
                done.append(f"rendered {'as new takes' if not first.unfinished else 'to finish it'}: {', '.join(again)}")
            if not left.ok:
                done.append("film and contact sheet assembled again")
            if first.unfinished:
                done.append(f"finished version {run.manifest.version}, which had stopped part-way")
        versions.finish(run)
        _record_hashes(run)
        final = check(run)
        final.repaired = done
        return final
    finally:
        run.unlock()
