"""The memory bank: keyframes of earlier shots (and reference images) that condition later shots.

It lives in ``RUN_DIR/memory/``: ``bank.json`` (a :class:`schemas.memory.MemoryState`) and one PNG
per keyframe. Every change is saved at once (PNG files first, then ``bank.json`` atomically), so
the folder always reloads to exactly the bank in memory.

Which keyframes condition a shot is :func:`select_memory`: the memory sink (the film's first
keyframes), pinned keyframes, and a sliding window of the most recent ones (StoryMem section 3.4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from pydantic import ValidationError

from engine.base import FrameEmbedder, QualityScorer
from engine.keyframes import KeyframeCandidates
from engine.video import load_image, save_png
from schemas.memory import Keyframe, MemorySettings, MemoryState
from schemas.render import MemoryImage, SceneRecord
from schemas.script import parse_shot_id
from story.files import atomic_write_json, inside, sha256_file, slug

MEMORY_DIR = "memory"
BANK_FILE = "bank.json"
EMBEDDING_DECIMALS = 6
"""Stored embeddings are rounded to this many decimals (compact JSON; cosine changes < 1e-5)."""


def select_memory(keyframes: Sequence[Keyframe], settings: MemorySettings) -> list[Keyframe]:
    """The keyframes that condition a shot, oldest first, from its history ``keyframes`` (oldest
    first). Dropped keyframes never count. At most ``settings.max_size`` are returned:

    1. pinned keyframes (if they alone exceed ``max_size``, the most recent pins are kept);
    2. the memory sink: the first ``sink_size`` keyframes, as far as room is left;
    3. the sliding window: the most recent remaining keyframes fill the rest.
    """
    live = [k for k in keyframes if not k.dropped]
    room = settings.max_size
    pins = [i for i, k in enumerate(live) if k.pinned]
    chosen: set[int] = set(pins[-room:])
    for i in range(min(settings.sink_size, len(live))):
        if len(chosen) >= room:
            break
        chosen.add(i)
    for i in reversed(range(len(live))):
        if len(chosen) >= room:
            break
        chosen.add(i)
    return [live[i] for i in sorted(chosen)]


class MemoryBank:
    """A run's memory bank (see the module docstring). Build it with :meth:`create` or
    :meth:`load`; every mutating method saves."""

    def __init__(self, run_dir: str | Path, state: MemoryState) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.state = state

    # -- persistence ----------------------------------------------------------------------------

    @staticmethod
    def file(run_dir: str | Path) -> Path:
        """Path of ``bank.json`` of a run."""
        return Path(run_dir) / MEMORY_DIR / BANK_FILE

    @classmethod
    def create(cls, run_dir: str | Path, settings: MemorySettings, embedder_name: str,
               scorer_name: str) -> "MemoryBank":
        """A new, empty bank saved in ``run_dir/memory/``; refuses to overwrite an existing one."""
        path = cls.file(run_dir)
        if path.exists():
            raise ValueError(f"memory bank {path} already exists: load it with MemoryBank.load")
        bank = cls(run_dir, MemoryState(settings=settings, embedder=embedder_name, scorer=scorer_name))
        bank.save()
        return bank

    @classmethod
    def load(cls, run_dir: str | Path) -> "MemoryBank":
        """Load and validate ``run_dir/memory/bank.json``; ``ValueError`` naming the file if it is
        missing, not JSON, not a valid bank, or points outside the run directory."""
        path = cls.file(run_dir)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f"memory bank {path} is missing: create it with MemoryBank.create") from None
        except OSError as exc:
            raise ValueError(f"memory bank {path} cannot be read: {exc}") from None
        try:
            state = MemoryState.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"memory bank {path} is corrupt (not JSON: {exc}); restore it or start a new run") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"memory bank {path} is invalid at {where}: {first['msg']}") from None
        ids = [k.id for k in state.keyframes]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"memory bank {path} is invalid: keyframe ids {dup} appear twice")
        bank = cls(run_dir, state)
        for k in state.keyframes:
            try:
                inside(bank.run_dir, k.path)
            except ValueError as exc:
                raise ValueError(f"memory bank {path} is invalid: keyframe {k.id}: {exc}") from None
        return bank

    def save(self) -> None:
        """Write ``bank.json`` atomically."""
        atomic_write_json(self.file(self.run_dir), self.state.model_dump(mode="json"))

    # -- accessors ------------------------------------------------------------------------------

    @property
    def settings(self) -> MemorySettings:
        return self.state.settings

    @property
    def keyframes(self) -> list[Keyframe]:
        """Every keyframe, in bank order (references first)."""
        return list(self.state.keyframes)

    def get(self, keyframe_id: str) -> Keyframe:
        """The keyframe with this id; ``KeyError`` with the known ids otherwise."""
        for k in self.state.keyframes:
            if k.id == keyframe_id:
                return k
        known = ", ".join(k.id for k in self.state.keyframes) or "none"
        raise KeyError(f"no keyframe {keyframe_id!r} in the memory bank (known: {known})")

    # -- adding ---------------------------------------------------------------------------------

    def _check_backends(self, embedder: str, scorer: str) -> None:
        if embedder != self.state.embedder or scorer != self.state.scorer:
            raise ValueError(
                f"the bank holds {self.state.embedder!r}/{self.state.scorer!r} vectors and scores, got "
                f"{embedder!r}/{scorer!r}: use the run's embedder and scorer (vectors of different embedders never mix)"
            )

    def _write_image(self, image: np.ndarray, name: str) -> tuple[str, str]:
        """Save a PNG in memory/ atomically; returns (path relative to the run dir, sha256)."""
        rel = f"{MEMORY_DIR}/{name}.png"
        target = inside(self.run_dir, rel)
        save_png(image, target)
        return rel, sha256_file(target)

    def add_reference(self, character: str, image_path: str | Path, embedder: FrameEmbedder,
                      scorer: QualityScorer, save: bool = True) -> Keyframe:
        """Copy a user reference image of ``character`` into memory/ as ``ref-<slug>-<n>.png`` (MR2V).

        References sit before every shot keyframe and are never deduplicated. Adding the same
        image for the same character again returns the existing keyframe."""
        self._check_backends(embedder.name, scorer.name)
        image = load_image(image_path)  # (H, W, 3)
        base = f"ref-{slug(character, max_len=40, fallback='character')}"
        refs = [k for k in self.state.keyframes if k.source == "reference"]
        n = sum(1 for k in refs if k.id.rsplit("-", 1)[0] == base)
        rel, digest = self._write_image(image, f"{base}-{n}")
        for k in refs:
            if k.sha256 == digest and [c.casefold() for c in k.characters] == [character.casefold()]:
                inside(self.run_dir, rel).unlink(missing_ok=True)
                return k
        vec = np.asarray(embedder.embed(image[None]), dtype=np.float32)[0]  # (D,)
        score = float(np.asarray(scorer.score(image[None]))[0])
        kf = Keyframe(id=f"{base}-{n}", source="reference", path=rel, sha256=digest,
                      embedding=_store(vec), quality=round(score, EMBEDDING_DECIMALS), characters=[character])
        self.state.keyframes.insert(len(refs), kf)
        if save:
            self.save()
        return kf

    def admit(self, shot_id: str, frames: np.ndarray, candidates: KeyframeCandidates,
              characters: Iterable[str], settings: MemorySettings | None = None,
              scene: SceneRecord | None = None) -> list[Keyframe]:
        """Add a shot's keyframe candidates, skipping near-duplicates; returns those added.

        ``frames`` ``(N, H, W, 3)`` are the frames the candidates index (the saved shot). See
        :meth:`admit_images` for the rules."""
        self._check_backends(candidates.embedder, candidates.scorer)
        for idx in candidates.indices:
            if not 0 <= idx < len(frames):
                raise ValueError(f"keyframe index {idx} is outside the shot's {len(frames)} frames")
        images = frames[list(candidates.indices)] if candidates.indices else frames[:0]  # (K, H, W, 3)
        return self.admit_images(shot_id, images, candidates.indices, candidates.embeddings, candidates.quality,
                                 characters, settings, scene=scene)

    def admit_images(self, shot_id: str, images: np.ndarray, frame_indices: Sequence[int], embeddings: np.ndarray,
                     quality: np.ndarray, characters: Iterable[str],
                     settings: MemorySettings | None = None, version: int = 1,
                     scene: SceneRecord | None = None) -> list[Keyframe]:
        """Add keyframe images ``(K, H, W, 3)`` of a shot (frame ``frame_indices[i]`` of the saved
        shot, vector ``embeddings[i]`` from the run's embedder, score ``quality[i]``), skipping
        near-duplicates; returns those added.

        A candidate is skipped when its cosine similarity to any non-dropped keyframe in the bank,
        or to one admitted just before it, exceeds ``settings.dedupe_threshold`` (default: the
        bank's). Keyframes the bank already holds for ``shot_id`` are replaced first (as
        :meth:`remove_shot`), so admitting a shot again is safe. Files are
        ``memory/<id>.png`` with ids ``<shot_id>-k<n>`` (film version 1) or ``<shot_id>-v<version>-k<n>``
        (a later version re-rendering the shot), n = 1, 2, ... in admission order; earlier versions'
        files are never deleted, so every version of the film stays restorable. ``scene``: the world
        the shot was drawn in, as its engine reported it (kept with each keyframe)."""
        parse_shot_id(shot_id)
        settings = settings or self.settings
        emb = np.asarray(embeddings, np.float32).reshape(len(frame_indices), -1) if len(frame_indices) else None
        qual = np.asarray(quality, np.float32).reshape(-1)
        if len(images) != len(frame_indices) or len(qual) != len(frame_indices):
            raise ValueError(
                f"{len(images)} images, {len(frame_indices)} frame indices and {len(qual)} scores: "
                "give one of each per keyframe"
            )
        prefix = f"{shot_id}-k" if version == 1 else f"{shot_id}-v{version}-k"
        for k in self.remove_shot(shot_id, save=False, keep_files=True):
            if k.id.startswith(prefix):
                inside(self.run_dir, k.path).unlink(missing_ok=True)  # this version's own earlier take
        characters = list(characters)
        existing = [np.asarray(k.embedding, np.float32) for k in self.state.keyframes if not k.dropped and k.embedding]
        admitted: list[Keyframe] = []
        for i, idx in enumerate(frame_indices):
            vec = emb[i]  # (D,)
            if existing:
                bank = np.stack(existing)  # (K, D)
                if bank.shape[1] != vec.shape[0]:
                    raise ValueError(
                        f"embedding length {vec.shape[0]} differs from the bank's {bank.shape[1]}: use the run's embedder"
                    )
                if float((bank @ vec).max()) > settings.dedupe_threshold:
                    continue
            kid = f"{prefix}{len(admitted) + 1}"
            rel, digest = self._write_image(np.ascontiguousarray(images[i]), kid)
            admitted.append(Keyframe(
                id=kid, source="shot", shot_id=shot_id, frame_index=int(idx), path=rel, sha256=digest,
                embedding=_store(vec), quality=round(float(qual[i]), EMBEDDING_DECIMALS), characters=list(characters),
                scene=scene,
            ))
            existing.append(vec)
        self.state.keyframes.extend(admitted)
        self.save()
        return admitted

    # -- removing and editing -------------------------------------------------------------------

    def remove_shot(self, shot_id: str, save: bool = True, keep_files: bool = False) -> list[Keyframe]:
        """Forget a shot's keyframes (before it is re-rendered) and delete their files, unless
        ``keep_files`` (the director keeps them: an earlier version of the film may use them)."""
        gone = [k for k in self.state.keyframes if k.shot_id == shot_id]
        self.state.keyframes = [k for k in self.state.keyframes if k.shot_id != shot_id]
        for k in gone if not keep_files else []:
            inside(self.run_dir, k.path).unlink(missing_ok=True)
        if save and gone:
            self.save()
        return gone

    def _set(self, keyframe_id: str, **changes: bool) -> Keyframe:
        old = self.get(keyframe_id)
        new = old.model_copy(update=changes)
        self.state.keyframes = [new if k.id == keyframe_id else k for k in self.state.keyframes]
        self.save()
        return new

    def pin(self, keyframe_id: str) -> Keyframe:
        """Keep this keyframe in every later shot's memory."""
        return self._set(keyframe_id, pinned=True)

    def unpin(self, keyframe_id: str) -> Keyframe:
        """Let this keyframe leave the window again."""
        return self._set(keyframe_id, pinned=False)

    def drop(self, keyframe_id: str) -> Keyframe:
        """Never condition a shot on this keyframe (its file stays for history)."""
        return self._set(keyframe_id, dropped=True)

    def restore(self, keyframe_id: str) -> Keyframe:
        """Undo :meth:`drop`."""
        return self._set(keyframe_id, dropped=False)

    # -- choosing memory for a shot -------------------------------------------------------------

    def history_before(self, shot_ids_before: Sequence[str]) -> list[Keyframe]:
        """References, then the keyframes of ``shot_ids_before`` in film order (the order given),
        each shot's in bank order. (Film order, not bank order: a shot re-rendered late keeps its
        place in the film's history.)"""
        refs = [k for k in self.state.keyframes if k.source == "reference"]
        by_shot: dict[str, list[Keyframe]] = {}
        for k in self.state.keyframes:
            if k.source == "shot" and k.shot_id is not None:
                by_shot.setdefault(k.shot_id, []).append(k)
        return refs + [k for sid in shot_ids_before for k in by_shot.get(sid, [])]

    def for_shot(self, shot_ids_before: Sequence[str]) -> list[Keyframe]:
        """The keyframes that condition the next shot: :func:`select_memory` of its history."""
        return select_memory(self.history_before(shot_ids_before), self.settings)

    def as_memory_images(self, keyframes: Sequence[Keyframe]) -> list[MemoryImage]:
        """The keyframes as the engine sees them (absolute paths, hashes checked against the files)."""
        out = []
        for k in keyframes:
            path = inside(self.run_dir, k.path)
            if not path.is_file():
                raise ValueError(f"memory image {path} of keyframe {k.id} is missing: drop the keyframe or restore the file")
            digest = sha256_file(path)
            if digest != k.sha256:
                raise ValueError(
                    f"memory image {path} changed since keyframe {k.id} was stored: restore it, or drop the keyframe"
                )
            out.append(MemoryImage(id=k.id, path=str(path), sha256=digest, characters=list(k.characters), scene=k.scene))
        return out


def _store(vec: np.ndarray) -> list[float]:
    """An embedding as JSON-exact floats, rounded to :data:`EMBEDDING_DECIMALS`."""
    return [round(float(v), EMBEDDING_DECIMALS) for v in np.asarray(vec, np.float32).reshape(-1)]
