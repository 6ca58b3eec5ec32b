"""The run directory: everything a run needs to resume, revise and explain itself.

```
RUN/
  script.json  bible.json  manifest.json  checkpoints.sqlite
  shots/SS-KK.mp4  shots/SS-KK.tail/0.png..  shots/rejected/SS-KK.aN.mp4
  memory/bank.json  memory/<keyframe-id>.png
  work/SS-KK/...    (per-attempt analysis files: samples, keyframe candidates)
  film.mp4  contact_sheet.png
```
``manifest.json`` is the source of truth, written atomically after every change.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from schemas.bible import Bible
from schemas.run import RunManifest, RunSettings, ShotState
from schemas.script import StoryScript
from story.files import atomic_write_json, inside, slug
from story.io import ScriptError, load_bible, load_script, save_bible, save_script


class RunError(RuntimeError):
    """A run directory cannot be used as asked; the message names the problem and the fix."""


def copy_references(bible: Bible, base: Path | None, run_root: Path, start: int = 0) -> Bible:
    """Copy each character's reference images into ``RUN/refs/`` under sanitised names, and point
    the bible at the copies (paths relative to the run); numbering starts at ``start``."""
    if not any(c.reference_images for c in bible.characters):
        return bible
    chars = []
    for c in bible.characters:
        new = []
        for n, ref in enumerate(c.reference_images, start=start):
            src = (base / ref) if base and not Path(ref).is_absolute() else Path(ref)
            try:
                with Image.open(src) as im:
                    im.verify()
            except FileNotFoundError:
                raise ScriptError("bible", [f"reference image {ref} of {c.name} not found (looked at {src})"]) from None
            except (UnidentifiedImageError, OSError) as e:
                raise ScriptError("bible", [f"reference image {ref} of {c.name} is not a readable image ({e})"]) from None
            dst = run_root / "refs" / f"{slug(c.name)}-{n}{src.suffix.lower() or '.png'}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            new.append(dst.relative_to(run_root).as_posix())
        chars.append(c.model_copy(update={"reference_images": new}))
    return bible.model_copy(update={"characters": chars})


class RunDir:
    SCRIPT = "script.json"
    BIBLE = "bible.json"
    MANIFEST = "manifest.json"
    CHECKPOINTS = "checkpoints.sqlite"
    FILM = "film.mp4"
    CONTACT_SHEET = "contact_sheet.png"
    LOCK = ".lock"

    def __init__(self, root: str | Path, manifest: RunManifest):
        self.root = Path(root).resolve()
        self.manifest = manifest
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._start: tuple[bool, set[str]] | None = None
        """(made the folder, names there before) while this process is creating the run."""

    # -- creation and opening -------------------------------------------------------------
    STAGING = {"refs", SCRIPT, BIBLE, LOCK}
    """What an interrupted creation can leave before the manifest exists (safe to write over)."""

    @classmethod
    def leftovers(cls, root: Path) -> str:
        """What a folder without a manifest holds: ``empty`` (nothing but hidden files), ``staging``
        (what an interrupted creation leaves: a render writes over it) or ``other`` (anything else:
        no command writes over it). ``render`` and ``resume`` both decide from this, so they agree."""
        names = [p.name for p in root.iterdir() if not p.name.startswith(".")] if root.is_dir() else []
        if not names:
            return "empty"
        return "staging" if all(n in cls.STAGING for n in names) else "other"

    @classmethod
    def _refuse_existing(cls, root: Path) -> None:
        """The refusals of ``create`` for a folder that holds a run or other files."""
        if (root / cls.MANIFEST).exists():
            raise RunError(
                f"{root} already holds a run; continue it with `python main.py resume {root}` "
                "or choose another --out"
            )
        if cls.leftovers(root) == "other":
            raise RunError(cls._not_a_run(root))

    @classmethod
    def kept_version(cls, root: Path) -> int | None:
        """The newest version of the run in ``root`` whose kept state can stand in for a lost or corrupt
        ``manifest.json``: ``versions/vN/manifest.json`` readable and for this folder, ``film_vN.mp4``
        there (:func:`agents.doctor.restore_manifest` puts it back); None when there is none."""
        folder = root / "versions"
        found = []
        for d in folder.iterdir() if folder.is_dir() else []:
            if d.name[:1] == "v" and d.name[1:].isdigit() and (root / f"film_{d.name}.mp4").is_file():
                found.append(int(d.name[1:]))
        for v in sorted(found, reverse=True):
            try:
                m = RunManifest.model_validate_json((folder / f"v{v}" / cls.MANIFEST).read_bytes())
            except (OSError, ValueError):
                continue
            if m.version == v:
                return v
        return None

    @classmethod
    def _repair_hint(cls, root: Path) -> str:
        v = cls.kept_version(root)
        return (f"; `python main.py doctor {root} --repair` puts back version {v}'s manifest (kept in "
                f"versions/v{v}/) and checks every file" if v is not None else "")

    @staticmethod
    def _not_a_run(root: Path) -> str:
        return (f"{root} is a non-empty folder that is not a run (no {RunDir.MANIFEST}); no command writes over "
                "its files: render into a new or empty --out")

    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        source: str,
        settings: RunSettings,
        script: StoryScript | None = None,
        bible: Bible | None = None,
        references_base: Path | None = None,
        options: dict | None = None,
    ) -> "RunDir":
        """Make a new run directory and return it **locked** (the caller unlocks; :meth:`abandon`
        undoes a start that fails before any shot is rendered).

        Exclusive: the run's lock is taken before anything is written, so of two commands creating
        the same ``--out`` at once one wins and the other gets a one-line :class:`RunError`.
        Atomic: everything is written before ``manifest.json``, whose presence makes the folder a
        run, so a kill during creation leaves no half-made run (running the same command again works)."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise RunError(f"--out {root} is a file, not a folder; choose a folder path")
        made_root = not root.exists()
        before = {p.name for p in root.iterdir()} if not made_root else set()
        if not made_root:
            cls._refuse_existing(root)  # before the lock file is made: a refused folder is not touched
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"cannot write to --out {root} ({e.strerror or e}); choose a writable folder") from None
        manifest = RunManifest(
            run_id=uuid.uuid4().hex[:12],
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source=source,
            settings=settings,
            options=options or {},
        )
        run = cls(root, manifest)
        run.lock()
        try:
            cls._refuse_existing(root)  # again, under the lock: another process may have just made it
            try:
                probe = root / f".write-test-{uuid.uuid4().hex}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as e:
                raise RunError(f"cannot write to --out {root} ({e.strerror or e}); choose a writable folder") from None
            run._start = (made_root, before)
            if script is not None:
                bible = copy_references(bible or Bible(), references_base, run.root)
                run.set_plan(script, bible)
            else:
                run.save()
        except BaseException:
            if run._start is not None:
                run.abandon()
            run.unlock()
            raise
        return run

    def abandon(self) -> bool:
        """Undo the creation of this run when it failed before any shot was rendered: remove what the
        start wrote (the folder too, when it made it), so the same ``--out`` works when the command is
        run again. Call it under the lock, from the process that created the run. Returns whether
        anything was removed (False: a shot was rendered, or a model planner wrote part of the plan
        (``plan.draft.json``): the run stays for ``resume``)."""
        if self._start is None:
            return False
        made_root, before = self._start
        try:
            on_disk = RunDir.open(self.root).manifest
        except RunError:
            on_disk = self.manifest
        if any(st.outputs.video for st in on_disk.shots) or (self.root / "versions").exists():
            return False
        if (self.root / "plan.draft.json").exists():  # the steps of a plan a model wrote: resume continues it
            return False
        for p in list(self.root.iterdir()) if self.root.is_dir() else []:
            if p.name in before:
                continue
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
        if made_root:
            try:
                self.root.rmdir()
            except OSError:
                pass
        self._start = None
        return True

    @classmethod
    def open(cls, root: str | Path) -> "RunDir":
        """Open an existing run; a missing or corrupt manifest is a one-line :class:`RunError`."""
        root = Path(root)
        if not root.is_dir():
            raise RunError(f"{root} is not a folder; pass the RUN_DIR a previous `render` created")
        mpath = root / cls.MANIFEST
        if not mpath.exists():
            kind = cls.leftovers(root)
            if kind == "staging":
                raise RunError(
                    f"{root} was interrupted while it was being created (no {cls.MANIFEST} yet); "
                    "run the same render command again (it writes over what is there)"
                )
            if kind == "other":
                hint = cls._repair_hint(root)
                if hint:
                    raise RunError(f"{root} has lost its {cls.MANIFEST}{hint}")
                raise RunError(cls._not_a_run(root))
            raise RunError(f"{root} is not a dailies run (no {cls.MANIFEST}); pass the folder given to --out")
        try:
            data = json.loads(mpath.read_text(encoding="utf-8"))
            manifest = RunManifest.model_validate(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunError(
                f"{mpath} is corrupt ({type(e).__name__}: {str(e)[:80]}); nothing was changed — "
                + (cls._repair_hint(root)[2:] or "restore it from a backup or start a new run with another --out")
            ) from None
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise RunError(
                f"{mpath} is corrupt ({where}: {first['msg']}); nothing was changed — "
                + (cls._repair_hint(root)[2:] or "restore it from a backup or start a new run with another --out")
            ) from None
        except OSError as e:
            raise RunError(f"cannot read {mpath} ({e.strerror}); check its permissions") from None
        return cls(root, manifest)

    # -- locking --------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the run's exclusive lock (released by the OS if the process dies). Re-entrant: each
        ``lock`` needs its ``unlock``; the last one releases it."""
        if self._lock_fd is not None:
            self._lock_depth += 1
            return
        path = self.root / self.LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise RunError(f"{self.root} was removed while this command started; run it again") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise RunError(f"{self.root} is in use by another dailies process; wait for it to finish") from None
            raise
        # The lock file may have been removed (a failed start cleaning up) between open and flock.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            raise RunError(f"{self.root} was removed while this command started; run it again")
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        self._lock_depth = 1

    def unlock(self) -> None:
        if self._lock_fd is None:
            return
        self._lock_depth -= 1
        if self._lock_depth > 0:
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def sweep_temporaries(self) -> list[str]:
        """Delete half-written temporary files a killed process left (``.<name>.<random>.tmp*``).

        Only our own atomic-write temporaries match; they are never the only copy of anything."""
        gone = []
        for p in self.root.rglob(".*.tmp*"):
            if p.is_file() and ".tmp" in p.name:
                p.unlink(missing_ok=True)
                gone.append(self.rel(p))
        return gone

    # -- state ----------------------------------------------------------------------------
    def save(self) -> None:
        """Write the manifest atomically."""
        atomic_write_json(self.root / self.MANIFEST, self.manifest.model_dump(mode="json"))

    def reload(self) -> None:
        self.manifest = RunDir.open(self.root).manifest

    def set_plan(self, script: StoryScript, bible: Bible) -> None:
        """Store the script and bible and (re)build the per-shot entries."""
        save_script(script, self.root / self.SCRIPT)
        save_bible(bible, self.root / self.BIBLE)
        base = self.manifest.settings.seed
        self.manifest.shots = [
            ShotState(shot_id=s.id, index=s.index, seed_base=base + s.index) for s in script.iter_shots()
        ]
        self.save()

    def has_plan(self) -> bool:
        return (self.root / self.SCRIPT).exists() and bool(self.manifest.shots)

    def script(self) -> StoryScript:
        try:
            return load_script(self.root / self.SCRIPT)
        except ScriptError as e:
            raise RunError(f"run script is unusable: {e}") from None

    def bible(self) -> Bible:
        path = self.root / self.BIBLE
        if not path.exists():
            return Bible()
        try:
            return load_bible(path)
        except ScriptError as e:
            raise RunError(f"run bible is unusable: {e}") from None

    def shot(self, shot_id: str) -> ShotState:
        for s in self.manifest.shots:
            if s.shot_id == shot_id:
                return s
        raise KeyError(shot_id)

    # -- paths ----------------------------------------------------------------------------
    def path(self, relative: str | Path) -> Path:
        """Absolute path of a run-relative path, refusing paths that leave the run."""
        return inside(self.root, relative)

    def rel(self, path: str | Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    @staticmethod
    def _tag(version: int) -> str:
        return "" if version == 1 else f".v{version}"

    @staticmethod
    def shot_video(shot_id: str, version: int = 1) -> str:
        """``shots/SS-KK.mp4`` for the first render; ``shots/SS-KK.vN.mp4`` when version N re-renders it
        (so every version's files are kept)."""
        return f"shots/{shot_id}{RunDir._tag(version)}.mp4"

    @staticmethod
    def shot_tail_dir(shot_id: str, version: int = 1) -> str:
        return f"shots/{shot_id}{RunDir._tag(version)}.tail"

    @staticmethod
    def rejected_video(shot_id: str, version: int, attempt: int) -> str:
        return f"shots/rejected/{shot_id}{RunDir._tag(version)}.a{attempt}.mp4"

    @staticmethod
    def work_dir(shot_id: str) -> str:
        return f"work/{shot_id}"

    def checkpoint_db(self) -> Path:
        return self.root / self.CHECKPOINTS
