"""The StoryMem engine inside the director: a 3-shot film with memory, on tiny random-weight
Wan models written to disk in the real download layout (CPU, seconds)."""

from __future__ import annotations

import pytest

from agents.backends import BackendOptions, build_backends
from agents.director.driver import drive
from agents.director.rundir import RunDir
from agents.director.runtime import Runtime
from agents.runs import load_story
from engine.memory import MemoryBank
from engine.storymem.engine import StoryMemEngine
from engine.storymem.testing import build_tiny_models
from engine.video import read_video, video_info
from schemas import RunSettings
from schemas.run import BackendInfo
from tests.test_director import THREE, THREE_BIBLE, write_story


@pytest.mark.parametrize("layout, continuation", [("diffusers", "mi2v"), ("original", "mm2v")])
def test_storymem_engine_renders_a_three_shot_film_with_memory(tmp_path, layout, continuation):
    models = build_tiny_models(tmp_path / "models", layout, (continuation,))
    engine = StoryMemEngine(models, variant=continuation, steps=2, device="cpu")
    story = write_story(tmp_path, THREE, THREE_BIBLE)
    script, bible, _, _ = load_story(story)
    settings = RunSettings(seed=11, width=64, height=48, num_frames=9, continuation=continuation, max_retries=0)
    run = RunDir.create(tmp_path / "run", source=str(story), settings=settings, script=script, bible=bible)
    backends, _ = build_backends(BackendOptions(engine="preview"))
    backends.engine = engine
    backends.engine_fingerprint = f"storymem:{engine.describe()}"
    backends.info["engine"] = BackendInfo(name="storymem", embedded=False, detail=engine.describe())
    run.manifest.backends = backends.info
    run.save()

    m = drive(Runtime(run=run, backends=backends), fresh=True)

    assert m.status == "complete"
    assert [s.mode for s in m.shots] == ["t2v", continuation, "m2v"]
    repeated = 1 if continuation == "mi2v" else 5
    assert [s.outputs.frame_count for s in m.shots] == [9, 9 - repeated, 9]
    for s in m.shots:
        info = video_info(run.root / s.outputs.video)
        assert (info.width, info.height) == (64, 48)
    assert read_video(run.root / "film.mp4").shape[0] == 27 - repeated
    bank = MemoryBank.load(run.root)
    earlier = {k.id for k in bank.keyframes if k.shot_id in ("01-01", "01-02")}
    assert earlier and set(m.shots[2].memory_ids) == earlier  # shot 3 was conditioned on shots 1-2's keyframes
    assert m.backends["engine"].name == "storymem"
