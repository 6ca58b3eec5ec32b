"""Character identity across shots: faces per image, matched to the bible's characters, distances.

Shared by ``eval`` (per-character identity consistency) and the director's critic step (a shot whose
character's face is far from that character's anchor gets a retry verdict), so both measure the same.

Matching, in film order over :class:`Observation` s (one image each, with the cast of its shot):

1. **Anchor** of a character: the largest confident face of each of its reference images (bible
   ``reference_images``); without references, its *first confident appearance*: the first image whose
   shot casts that character alone and shows exactly one confident face.
2. In an image, faces are given to cast characters with an anchor greedily by smallest distance to the
   anchor (each face and character used once); a face further than ``2 x threshold`` from every anchor is
   nobody's. When one character and one face are left, that face is the character's (however far).
3. The distance of an appearance is its distance to the character's anchor (the smallest over the anchor's
   faces); above ``threshold`` (dlib's same-person boundary, 0.6) the face is not the same person.

Images without faces are recorded as such: a shot with no face skips the check and says so.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.scoring.base import FaceModel
from engine.scoring.faces import SAME_PERSON_DISTANCE, Face, distance


@dataclass(frozen=True)
class Observation:
    """One image to look at: a keyframe of a shot (``cast`` = the shot's characters) or a reference
    image of one character (``reference_of``)."""

    key: str
    """Keyframe id or reference path (what verdicts and reports name)."""
    path: str
    shot_id: str | None = None
    cast: tuple[str, ...] = ()
    reference_of: str | None = None


@dataclass
class Appearance:
    character: str
    key: str
    shot_id: str | None
    embedding: np.ndarray = field(repr=False)
    distance: float | None
    """Distance to the character's anchor (None for the anchor's own faces)."""
    box: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class Track:
    """Everything seen of one character."""

    character: str
    anchor: list[np.ndarray] = field(default_factory=list, repr=False)
    anchor_source: str = ""
    """``reference`` or ``first appearance in SS-KK``; empty while the character has no anchor."""
    appearances: list[Appearance] = field(default_factory=list)

    def by_shot(self) -> dict[str, Appearance]:
        """Per shot, its appearance closest to the anchor (the shot's best face of the character)."""
        best: dict[str, Appearance] = {}
        for a in self.appearances:
            if a.shot_id is None:
                continue
            cur = best.get(a.shot_id)
            if cur is None or (a.distance or 0.0) < (cur.distance or 0.0):
                best[a.shot_id] = a
        return best


@dataclass
class IdentityResult:
    tracks: dict[str, Track]
    faceless: list[str]
    """Keys of observed images with no confident face."""
    faces_per_key: dict[str, int]


class IdentityScorer:
    """Faces (cached per file) and the matching above. ``faces``: a :class:`FaceModel` (dlib)."""

    def __init__(self, faces: FaceModel, threshold: float = SAME_PERSON_DISTANCE):
        self.model = faces
        self.name = faces.name
        self.threshold = threshold
        self._cache: dict[tuple, list[Face]] = {}

    def faces_in(self, path: str | os.PathLike) -> list[Face]:
        from PIL import Image

        p = Path(path)
        st = p.stat()
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if key not in self._cache:
            with Image.open(p) as im:
                self._cache[key] = self.model.faces(np.asarray(im.convert("RGB")))
        return self._cache[key]

    def anchor_distance(self, track: Track, emb: np.ndarray) -> float:
        return min(distance(a, emb) for a in track.anchor)

    def track(self, observations: list[Observation]) -> IdentityResult:
        tracks: dict[str, Track] = {}
        faceless: list[str] = []
        counts: dict[str, int] = {}
        refs = [o for o in observations if o.reference_of]
        for o in refs:
            faces = self.faces_in(o.path)
            counts[o.key] = len(faces)
            t = tracks.setdefault(o.reference_of, Track(o.reference_of))
            if faces:
                t.anchor.append(faces[0].embedding)
                t.anchor_source = "reference"
                t.appearances.append(Appearance(o.reference_of, o.key, None, faces[0].embedding, None, faces[0].box))
            else:
                faceless.append(o.key)
        for o in observations:
            if o.reference_of:
                continue
            faces = self.faces_in(o.path)
            counts[o.key] = len(faces)
            if not faces:
                faceless.append(o.key)
                continue
            for c in o.cast:
                tracks.setdefault(c, Track(c))
            for c, f in self._assign(faces, list(o.cast), tracks):
                t = tracks[c]
                if not t.anchor:
                    t.anchor.append(f.embedding)
                    t.anchor_source = f"first appearance in {o.shot_id}"
                    t.appearances.append(Appearance(c, o.key, o.shot_id, f.embedding, 0.0, f.box))
                else:
                    t.appearances.append(Appearance(c, o.key, o.shot_id, f.embedding, self.anchor_distance(t, f.embedding), f.box))
        return IdentityResult(tracks=tracks, faceless=faceless, faces_per_key=counts)

    def _assign(self, faces: list[Face], cast: list[str], tracks: dict[str, Track]) -> list[tuple[str, Face]]:
        anchored = [c for c in cast if tracks[c].anchor]
        pairs = sorted(
            ((self.anchor_distance(tracks[c], f.embedding), i, c) for c in anchored for i, f in enumerate(faces)),
            key=lambda x: x[0],
        )
        used_f: set[int] = set()
        used_c: set[str] = set()
        out: list[tuple[str, Face]] = []
        for d, i, c in pairs:
            if i in used_f or c in used_c or d > 2 * self.threshold:
                continue
            used_f.add(i)
            used_c.add(c)
            out.append((c, faces[i]))
        left_c = [c for c in cast if c not in used_c]
        left_f = [i for i in range(len(faces)) if i not in used_f]
        if len(left_c) == 1 and len(left_f) == 1:
            # The one character left takes the one face left (unambiguous only then), however far it is:
            # in a one-character shot a drifted face is still that character's.
            out.append((left_c[0], faces[left_f[0]]))
        return out


def pairwise_distances(embs: list[np.ndarray]) -> list[float]:
    """Distances of every pair (i < j) of ``embs``."""
    return [distance(a, b) for a, b in itertools.combinations(embs, 2)]
