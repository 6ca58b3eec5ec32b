"""Face detection and 128-d face embeddings with dlib's released models (no face_recognition package).

The models ship on PyPI in ``face_recognition_models`` (CC0; dlib's HOG frontal face detector is built
into dlib, plus ``shape_predictor_5_face_landmarks.dat`` and ``dlib_face_recognition_resnet_model_v1.dat``)
and run on ``dlib-bin`` (prebuilt dlib). ``face_recognition`` is only a thin wrapper over these calls and
needs the source-only ``dlib`` package, so dlib is called directly here, with the model files located
inside the installed ``face_recognition_models`` package *without importing it* (its ``__init__`` needs
``pkg_resources``, which current setuptools no longer provides).

Distances are Euclidean between the 128-d descriptors; dlib's model card (and face_recognition's
default tolerance) put the same/different-person boundary at 0.6 (99.38 % on LFW). Measured here on the
photographs in the tests: one person under flip, crop-and-rescale and light changes 0.11-0.22; two
different people 0.70.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.scoring.base import ScoringError

SAME_PERSON_DISTANCE = 0.6
"""dlib's threshold: two descriptors closer than this are the same person."""
MIN_DETECTION_SCORE = 0.3
"""Smallest HOG detector margin of a face that counts (the detector's own cut is 0; faces in the test
photographs score 1.0-1.5, the one false detection seen there 0.12-0.14)."""
MIN_FACE_SIDE = 40
"""Faces smaller than this (pixels, box side) are not embedded: too little detail to compare."""
UPSAMPLE_BELOW = 400
"""Images whose shorter side is below this many pixels are upsampled once before detection."""
INSTALL = "pip install dlib-bin face_recognition_models"
MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


@dataclass(frozen=True)
class Face:
    """One detected face: box ``(left, top, right, bottom)`` in pixels, detector score, 128-d descriptor."""

    box: tuple[int, int, int, int]
    score: float
    embedding: np.ndarray = field(repr=False)

    @property
    def side(self) -> int:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


def face_models_dir() -> Path | None:
    """The ``models`` folder of the installed ``face_recognition_models`` package, or None."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder if all((folder / f).is_file() for f in MODEL_FILES) else None


def faces_available() -> tuple[bool, str]:
    """Whether :class:`DlibFaces` can be built, and why not."""
    if importlib.util.find_spec("dlib") is None:
        return False, f"dlib is not installed ({INSTALL})"
    if face_models_dir() is None:
        return False, f"the face_recognition_models package (dlib's model files) is not installed ({INSTALL})"
    return True, ""


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two ``(128,)`` descriptors (same person below :data:`SAME_PERSON_DISTANCE`)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


class DlibFaces:
    """dlib's HOG face detector + 5-point landmarks + ResNet face descriptor (128-d).

    ``faces(image)``: ``(H, W, 3)`` uint8 RGB -> confident faces, largest first. ``upsample`` doubles the
    image that many times before detection; None (default) upsamples once when the shorter side is under
    :data:`UPSAMPLE_BELOW` px (finds faces down to ~40 px) and not otherwise (faces of ~80 px and up; 4x
    faster). The models load on the first call (dlib's detector takes seconds to deserialise). Raises
    :class:`ScoringError` when dlib or the model files are missing."""

    name = "dlib-resnet-v1"

    def __init__(self, *, upsample: int | None = None, min_score: float = MIN_DETECTION_SCORE,
                 min_side: int = MIN_FACE_SIDE, models_dir: str | os.PathLike | None = None):
        ok, why = faces_available() if models_dir is None else (True, "")
        if not ok:
            raise ScoringError(f"face identity scorer unavailable: {why}")
        self.folder = Path(models_dir) if models_dir is not None else face_models_dir()
        missing = [f for f in MODEL_FILES if not (self.folder / f).is_file()]
        if missing:
            raise ScoringError(f"face models missing in {self.folder}: {', '.join(missing)} ({INSTALL})")
        self.upsample = upsample
        self.min_score = min_score
        self.min_side = min_side
        self._models = None

    def _load(self):
        if self._models is None:
            import dlib

            self._models = (dlib.get_frontal_face_detector(), dlib.shape_predictor(str(self.folder / MODEL_FILES[0])),
                            dlib.face_recognition_model_v1(str(self.folder / MODEL_FILES[1])))
        return self._models

    def faces(self, image: np.ndarray) -> list[Face]:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be uint8 (H, W, 3), got {getattr(image, 'dtype', None)} {getattr(image, 'shape', None)}")
        img = np.ascontiguousarray(image)
        detector, landmarks, encoder = self._load()
        up = self.upsample if self.upsample is not None else int(min(img.shape[:2]) < UPSAMPLE_BELOW)
        rects, scores, _ = detector.run(img, up, 0.0)
        out = []
        for r, s in zip(rects, scores):
            box = (max(0, r.left()), max(0, r.top()), min(img.shape[1], r.right()), min(img.shape[0], r.bottom()))
            if s < self.min_score or min(box[2] - box[0], box[3] - box[1]) < self.min_side:
                continue
            shape = landmarks(img, r)
            emb = np.asarray(encoder.compute_face_descriptor(img, shape, 0), dtype=np.float32)  # (128,)
            out.append(Face(box=box, score=float(s), embedding=emb))
        return sorted(out, key=lambda f: -f.side)
