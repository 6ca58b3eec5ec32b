"""The face identity judge on real photographs shipped in packages: scikit-image's ``astronaut`` (Eileen
Collins), matplotlib's ``grace_hopper.jpg`` (Grace Hopper) and scikit-image's ``coffee`` (no face)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from engine.scoring.faces import SAME_PERSON_DISTANCE, DlibFaces, distance
from engine.scoring.identity import IdentityScorer, Observation


def _package_file(package: str, rel: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"{package} is a dev dependency (pip install -e '.[dev]')"
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    assert path.is_file(), path
    return path


ASTRONAUT = _package_file("skimage", "data/astronaut.png")
HOPPER = _package_file("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")
COFFEE = _package_file("skimage", "data/coffee.png")


@pytest.fixture(scope="module")
def faces() -> DlibFaces:
    return DlibFaces()


def _rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


def _variants(img: Image.Image) -> dict[str, Image.Image]:
    w, h = img.size
    crop = img.crop((w // 8, 0, w * 3 // 4, h * 5 // 8))
    return {
        "flip": ImageOps.mirror(img),
        "crop+rescale": crop.resize((crop.width * 3 // 2, crop.height * 3 // 2), Image.BICUBIC),
        "darker": ImageEnhance.Brightness(img).enhance(0.5),
        "brighter": ImageEnhance.Brightness(img).enhance(1.4),
        "low contrast": ImageEnhance.Contrast(img).enhance(0.5),
    }


@pytest.mark.parametrize("photo", [ASTRONAUT, HOPPER], ids=["astronaut", "hopper"])
def test_same_identity_under_crop_flip_and_light(faces, photo):
    img = Image.open(photo)
    ref = faces.faces(_rgb(img))
    assert ref, "the face in the original photograph is found"
    for what, variant in _variants(img).items():
        found = faces.faces(_rgb(variant))
        assert found, f"face found after {what}"
        d = distance(ref[0].embedding, found[0].embedding)
        assert d < SAME_PERSON_DISTANCE, (what, d)


def test_different_identities_are_far_apart(faces):
    a = faces.faces(_rgb(Image.open(ASTRONAUT)))[0]
    b = faces.faces(_rgb(Image.open(HOPPER)))[0]
    assert distance(a.embedding, b.embedding) > SAME_PERSON_DISTANCE


def test_no_face(faces):
    assert faces.faces(_rgb(Image.open(COFFEE))) == []
    assert faces.faces(np.full((120, 160, 3), 128, np.uint8)) == []


def test_largest_face_first_and_boxes_inside(faces):
    img = _rgb(Image.open(ASTRONAUT))
    found = faces.faces(img)
    assert [f.side for f in found] == sorted((f.side for f in found), reverse=True)
    for f in found:
        left, top, right, bottom = f.box
        assert 0 <= left < right <= img.shape[1] and 0 <= top < bottom <= img.shape[0]
        assert f.embedding.shape == (128,)


def test_tracking_references_first_appearance_and_faceless(tmp_path, faces):
    """A reference anchors Ada; Bo is anchored by his first appearance alone; a shot whose face is a
    different person is far; a shot with no face is listed as faceless."""
    ast = Image.open(ASTRONAUT)
    paths = {}
    for name, img in {"ref": ast, "s1": ImageOps.mirror(ast), "s2": Image.open(HOPPER),
                      "s3": ImageEnhance.Brightness(Image.open(HOPPER)).enhance(0.6),
                      "s4": Image.open(COFFEE), "s5": ImageEnhance.Brightness(ast).enhance(0.6)}.items():
        paths[name] = tmp_path / f"{name}.png"
        img.convert("RGB").save(paths[name])
    obs = [
        Observation("ref-ada-0", str(paths["ref"]), reference_of="Ada"),
        Observation("01-01-k1", str(paths["s1"]), "01-01", ("Ada",)),
        Observation("01-02-k1", str(paths["s2"]), "01-02", ("Bo",)),
        Observation("01-03-k1", str(paths["s3"]), "01-03", ("Bo",)),
        Observation("01-04-k1", str(paths["s4"]), "01-04", ("Ada",)),
        Observation("01-05-k1", str(paths["s5"]), "01-05", ("Ada",)),
        Observation("01-06-k1", str(paths["s2"]), "01-06", ("Ada",)),
    ]
    result = IdentityScorer(faces).track(obs)
    ada, bo = result.tracks["Ada"], result.tracks["Bo"]
    assert ada.anchor_source == "reference"
    assert bo.anchor_source == "first appearance in 01-02"
    shots = ada.by_shot()
    assert shots["01-01"].distance < SAME_PERSON_DISTANCE
    assert shots["01-05"].distance < SAME_PERSON_DISTANCE
    assert shots["01-06"].distance > SAME_PERSON_DISTANCE  # Grace Hopper cast as Ada
    assert "01-04" not in shots and "01-04-k1" in result.faceless
    assert bo.by_shot()["01-03"].distance < SAME_PERSON_DISTANCE
