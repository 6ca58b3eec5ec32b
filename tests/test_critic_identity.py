"""The critic's identity check: typed verdicts from measured face distances, and the director acting on
them with real photographs rendered by a stand-in engine (astronaut = Ada; Grace Hopper = a drifted Ada)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.backends import BackendOptions, build_backends
from agents.critic.heuristic import HeuristicCritic
from agents.director.driver import drive
from agents.director.rundir import RunDir
from agents.director.runtime import Runtime
from agents.runs import load_story
from schemas import RunSettings
from schemas.bible import Character
from schemas.critique import CritiqueInput, IdentityEvidence
from tests.test_identity import ASTRONAUT, COFFEE, HOPPER

ADA = Character(name="Ada", appearance="a woman with short brown hair", attire="an orange flight suit")


def _input(tmp_path: Path, evidence: list[IdentityEvidence], prompt: str, memory_ids=("01-01-k1",)) -> CritiqueInput:
    frame = tmp_path / "f.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)).save(frame)
    return CritiqueInput(shot_id="01-03", prompt=prompt, cut=True, characters=[ADA], bible=[ADA],
                         sample_frames=[str(frame)] * 3, memory_ids=list(memory_ids), identity=evidence)


FAR = dict(character="Ada", status="far", distance=0.71, anchor="reference", keyframe="cand-0.png")


@pytest.mark.parametrize("evidence, prompt, action", [
    ([IdentityEvidence(**FAR, best_keyframes=["01-02-k1", "01-01-k1"], in_memory=["01-01-k1"])],
     "Ada, a woman with short brown hair, wearing an orange flight suit, waves.", "swap_keyframes"),
    ([IdentityEvidence(**FAR, best_keyframes=["01-01-k1"], in_memory=["01-01-k1"])],
     "Ada waves at the camera.", "inject_details"),
    ([IdentityEvidence(**FAR, best_keyframes=["01-01-k1"], in_memory=["01-01-k1"])],
     "Ada (a woman with short brown hair, wearing an orange flight suit) waves.", "rerender"),
    ([IdentityEvidence(character="Ada", status="match", distance=0.2, anchor="reference")], "Ada waves.", "accept"),
    ([IdentityEvidence(character="Ada", status="no_face")], "Ada waves.", "accept"),
])
def test_identity_verdicts(tmp_path, evidence, prompt, action):
    report = HeuristicCritic().critique(_input(tmp_path, evidence, prompt))
    verdict = report.verdict
    if action == "accept":
        # "Ada waves." names Ada without details, which the details check (not identity) answers.
        assert verdict.action in ("accept", "inject_details")
        assert all(f.severity != "major" for f in report.findings if f.check == "identity")
    else:
        assert verdict.action == action
        ident = [f for f in report.findings if f.check == "identity"]
        assert ident and ident[0].severity == "major" and ident[0].value == pytest.approx(0.71)
    if action == "swap_keyframes":
        assert verdict.add == ["01-02-k1"] and verdict.drop == []


def test_no_face_skips_and_says_so(tmp_path):
    report = HeuristicCritic().critique(_input(tmp_path, [IdentityEvidence(character="Ada", status="no_face")],
                                               "A quiet room at night. Wide shot."))
    assert report.verdict.action == "accept"
    assert any("skipped: no face" in f.message for f in report.findings if f.check == "identity")
    report = HeuristicCritic().critique(_input(tmp_path, [], "A quiet room.").model_copy(update={"identity_note": "no face judge"}))
    assert any("identity not checked: no face judge" in f.message for f in report.findings)


# -- the director with a stand-in engine that films photographs --------------------------------
class PhotoEngine:
    """Renders each shot as a slowly panning photograph: ``plan[shot_id][attempt]`` names the photo."""

    name = "photo"

    def __init__(self, plan: dict[str, list[Path]]):
        self.plan = plan
        self.calls: dict[str, int] = {}

    def describe(self) -> str:
        return "photographs"

    def render_shot(self, request, progress=None):
        n = self.calls.get(request.shot_id, 0)
        self.calls[request.shot_id] = n + 1
        photos = self.plan[request.shot_id]
        img = Image.open(photos[min(n, len(photos) - 1)]).convert("RGB")
        side = min(img.size)
        img = img.crop((0, 0, side, side)).resize((request.width + 16, request.height + 16), Image.BICUBIC)
        a = np.asarray(img)
        return np.stack([a[k % 16 : k % 16 + request.height, k % 16 : k % 16 + request.width]
                         for k in range(request.num_frames)])  # (F, H, W, 3)


STORY = {"story_name": "Ada flies", "story_overview": "An astronaut prepares for a flight.",
         "scenes": [{"scene_num": 1, "video_prompts": [
             "Ada, a woman with short brown hair, wearing an orange flight suit, poses by a flag. Medium shot.",
             "A cup of coffee on the console. Close-up.",
             "Ada, a woman with short brown hair, wearing an orange flight suit, smiles at the crew. Medium shot.",
         ], "cut": [True, True, True]}]}
BIBLE = {"characters": [{"name": "Ada", "appearance": "a woman with short brown hair", "attire": "an orange flight suit"}],
         "cast": {"01-01": ["Ada"], "01-02": [], "01-03": ["Ada"]}}
MEMORY_OF_ONE = {"max_size": 1, "sink_size": 0}  # shot 3 remembers only shot 2 (the coffee)


def _drive(tmp_path: Path, plan: dict, **settings) -> tuple:
    from schemas.memory import MemorySettings

    (tmp_path / "ada.json").write_text(json.dumps(STORY))
    (tmp_path / "ada.bible.json").write_text(json.dumps(BIBLE))
    s, b, _, _ = load_story(tmp_path / "ada.json")
    rs = RunSettings(seed=1, width=320, height=320, num_frames=9, memory=MemorySettings(**MEMORY_OF_ONE), **settings)
    run = RunDir.create(tmp_path / "run", source="ada.json", settings=rs, script=s, bible=b)
    backends, _ = build_backends(BackendOptions(engine="preview"))
    assert backends.identity is not None and backends.info["identity"].name == "dlib-resnet-v1"
    engine = PhotoEngine(plan)
    backends.engine = engine
    return drive(Runtime(run=run, backends=backends), fresh=True), engine


@pytest.fixture
def ada_again(tmp_path) -> Path:
    """The astronaut again, mirrored and darker: the same person, not a copy of the first shot."""
    from PIL import ImageEnhance, ImageOps

    p = tmp_path / "ada-again.png"
    ImageEnhance.Brightness(ImageOps.mirror(Image.open(ASTRONAUT).convert("RGB"))).enhance(0.7).save(p)
    return p


@pytest.mark.slow
def test_director_retries_a_drifted_face_with_the_best_keyframes_then_accepts(tmp_path, ada_again):
    m, engine = _drive(tmp_path, {"01-01": [ASTRONAUT], "01-02": [COFFEE], "01-03": [HOPPER, ada_again]})
    assert m.status == "complete"
    first, coffee, third = m.shots

    assert [r.verdict.action for r in first.verdicts] == ["accept"]
    assert any("no earlier face" in f.message for f in first.verdicts[0].findings if f.check == "identity")
    assert coffee.attempts == 1  # no cast: nothing to check

    # Shot 3's first take is somebody else, far from Ada's first appearance, and its memory (the coffee) has
    # no Ada: her best earlier keyframe is put into memory and the shot rendered again.
    assert third.verdicts[0].verdict.action == "swap_keyframes"
    far = [f for f in third.verdicts[0].findings if f.check == "identity" and f.severity == "major"]
    assert far and far[0].value > 0.6 and "first appearance in 01-01" in far[0].message
    assert third.verdicts[0].verdict.add == first.outputs.keyframes[:1]
    assert third.directives.memory_add == first.outputs.keyframes[:1]
    assert first.outputs.keyframes[0] in third.memory_ids
    assert third.verdicts[-1].verdict.action == "accept"
    near = [f for f in third.verdicts[-1].findings if f.check == "identity"]
    assert near and near[0].value < 0.6
    assert third.attempts == 2 and engine.calls["01-03"] == 2 and m.total_retries == 1


@pytest.mark.slow
def test_identity_retries_stay_within_the_budget_and_faceless_shots_skip(tmp_path):
    m, engine = _drive(tmp_path, {"01-01": [ASTRONAUT], "01-02": [COFFEE], "01-03": [HOPPER]}, max_retries=2)
    third = m.shots[2]
    assert [r.verdict.action for r in third.verdicts] == ["swap_keyframes", "rerender", "rerender"]
    assert third.attempts == 3 and third.status == "accepted" and engine.calls["01-03"] == 3
    assert any("01-03 accepted after 3 attempts" in n for n in m.notices)
    # A cast shot whose keyframes show no face: the check is skipped and says so.
    (tmp_path / "b").mkdir()
    bible = json.loads(json.dumps(BIBLE))
    bible["cast"]["01-02"] = ["Ada"]
    globals()["BIBLE"], saved = bible, BIBLE
    try:
        m2, _ = _drive(tmp_path / "b", {"01-01": [ASTRONAUT], "01-02": [COFFEE], "01-03": [ASTRONAUT]})
    finally:
        globals()["BIBLE"] = saved
    coffee = m2.shots[1]
    assert coffee.attempts == 1 and coffee.verdicts[-1].verdict.action == "accept"
    assert any("skipped: no face" in f.message for f in coffee.verdicts[-1].findings if f.check == "identity")
