"""The director end to end on the preview engine, and each critic verdict applied."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.backends import BackendOptions, build_backends
from agents.critic.heuristic import HeuristicCritic
from agents.director import routes
from agents.director.driver import drive
from agents.director.rundir import RunDir
from agents.director.runtime import Runtime
from agents.runs import render_script
from engine.memory import MemoryBank
from engine.video import load_image, read_video, video_info
from schemas import Accept, CritiqueReport, InjectDetails, Reprompt, Rerender, RunSettings, SwapKeyframes
from schemas.memory import MemorySettings

THREE = {
    "story_name": "Three shots",
    "story_overview": "A painter at dawn, continuing, then a cut to the sea.",
    "scenes": [
        {"scene_num": 1, "video_prompts": [
            "Dawn in a small studio. Lena, a young woman with a red braid, wearing a blue smock, paints at an easel. Medium shot, slow push in, warm light.",
            "Lena, a young woman with a red braid, wearing a blue smock, steps back and smiles at the canvas. Medium shot, static camera.",
        ], "cut": [True, False]},
        {"scene_num": 2, "video_prompts": [
            "Night at the sea, waves under moonlight, Lena, a young woman with a red braid, wearing a blue smock, walks on the sand. Wide shot, pan left, cold palette.",
        ], "cut": [True]},
    ],
}
THREE_BIBLE = {"characters": [{"name": "Lena", "appearance": "a young woman with a red braid", "attire": "a blue smock"}],
               "cast": {"01-01": ["Lena"], "01-02": ["Lena"], "02-01": ["Lena"]}}


def write_story(tmp_path: Path, script=THREE, bible=THREE_BIBLE, name="three") -> Path:
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(script))
    if bible is not None:
        (tmp_path / f"{name}.bible.json").write_text(json.dumps(bible))
    return p


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)


@pytest.mark.parametrize("continuation, saved_second", [("mi2v", 80), ("mm2v", 76)])
def test_three_shot_film_end_to_end(tmp_path, continuation, saved_second):
    story = write_story(tmp_path)
    run_dir = tmp_path / "run"
    m = render_script(story, run_dir, RunSettings(seed=3, continuation=continuation), BackendOptions(engine="preview"))
    assert m.status == "complete"
    assert [s.mode for s in m.shots] == ["t2v", continuation, "m2v"]
    assert [s.outputs.frame_count for s in m.shots] == [81, saved_second, 81]

    # Shot files and the film: 832x480, H.264 yuv420p, frame counts add up.
    for s in m.shots:
        info = video_info(run_dir / s.outputs.video)
        assert (info.frames, info.width, info.height) == (s.outputs.frame_count, 832, 480)
    film = read_video(run_dir / "film.mp4")
    assert film.shape == (81 + saved_second + 81, 480, 832, 3)

    # Continuity: the cut=false shot continues the previous last frame; the hard cut does not.
    shot1, shot2, shot3 = (read_video(run_dir / s.outputs.video) for s in m.shots)
    assert mad(shot1[-1], shot2[0]) < 0.05
    assert mad(shot2[-1], shot3[0]) > 2 * mad(shot1[-1], shot2[0])
    # The lossless tail the continuation started from is shot 1's last frames (up to H.264 loss).
    tail1 = [load_image(run_dir / t) for t in m.shots[0].outputs.tail]
    assert len(tail1) == 5
    assert mad(tail1[-1], shot1[-1]) < 0.02 and mad(tail1[0], shot1[-5]) < 0.02

    # Memory bank: keyframes from earlier shots, on disk, conditioning the later shots.
    bank = MemoryBank.load(run_dir)
    ids = [k.id for k in bank.state.keyframes]
    assert ids and all((run_dir / k.path).exists() for k in bank.state.keyframes)
    assert {k.shot_id for k in bank.state.keyframes} <= {"01-01", "01-02", "02-01"}
    assert 1 <= len([k for k in bank.state.keyframes if k.shot_id == "01-01"]) <= 3
    assert m.shots[0].memory_ids == []
    assert set(m.shots[2].memory_ids) == {k.id for k in bank.state.keyframes if k.shot_id in ("01-01", "01-02")}
    assert all(k.characters == ["Lena"] for k in bank.state.keyframes)
    assert (run_dir / "contact_sheet.png").exists()
    assert m.backends["engine"].name == "preview" and m.backends["engine"].embedded
    assert m.backends["critic"].name == "heuristic"


def test_same_seed_same_film_and_other_seed_differs(tmp_path):
    story = write_story(tmp_path)
    small = RunSettings(seed=5, width=160, height=96, num_frames=17)
    a = render_script(story, tmp_path / "a", small, BackendOptions(engine="preview"))
    b = render_script(story, tmp_path / "b", small, BackendOptions(engine="preview"))
    c = render_script(story, tmp_path / "c", small.model_copy(update={"seed": 6}), BackendOptions(engine="preview"))
    assert [s.outputs.video_sha256 for s in a.shots] == [s.outputs.video_sha256 for s in b.shots]
    assert a.film_sha256 == b.film_sha256
    assert [s.outputs.video_sha256 for s in a.shots] != [s.outputs.video_sha256 for s in c.shots]


# -- verdicts, with a scripted critic (a test double: it decides, the director must obey) -----------

class ScriptedCritic:
    """Returns the queued verdicts for the shot under review in order, then accepts."""

    name = "scripted"

    def __init__(self, plan: dict[str, list]):
        self.plan = {k: list(v) for k, v in plan.items()}
        self.seen: list = []

    def preflight(self, request, bible):
        return None

    def critique(self, inp):
        self.seen.append(inp)
        queue = self.plan.get(inp.shot_id, [])
        verdict = queue.pop(0) if queue else Accept()
        return CritiqueReport(critic=self.name, attempt=inp.attempt, verdict=verdict)


def _run_with_critic(tmp_path: Path, critic, settings: RunSettings | None = None, script=THREE, bible=THREE_BIBLE):
    from agents.runs import load_story

    story = write_story(tmp_path, script, bible)
    s, b, _, _ = load_story(story)
    settings = settings or RunSettings(seed=1, width=160, height=96, num_frames=17)
    run = RunDir.create(tmp_path / "run", source=str(story), settings=settings, script=s, bible=b)
    backends, _ = build_backends(BackendOptions(engine="preview"))
    backends.critic = critic
    m = drive(Runtime(run=run, backends=backends), fresh=True)
    return run, m


def test_rerender_uses_a_new_seed_and_keeps_the_rejected_take(tmp_path):
    critic = ScriptedCritic({"01-01": [Rerender(reason="too dark")]})
    run, m = _run_with_critic(tmp_path, critic)
    s = m.shots[0]
    assert s.attempts == 2 and s.directives.reroll == 1
    assert s.seed != m.shots[0].seed_base
    assert (run.root / "shots/rejected/01-01.a1.mp4").exists()
    assert [r.verdict.action for r in s.verdicts] == ["rerender", "accept"]
    assert m.total_retries == 1


def test_reprompt_changes_the_prompt(tmp_path):
    new = "Dawn in a small studio, Lena, a young woman with a red braid, wearing a blue smock, sketches. Close-up."
    critic = ScriptedCritic({"02-01": [Reprompt(prompt=new, reason="wrong action")]})
    run, m = _run_with_critic(tmp_path, critic)
    assert m.shots[2].prompt == new and m.shots[2].attempts == 2
    assert [i.prompt for i in critic.seen if i.shot_id == "02-01"] == [THREE["scenes"][1]["video_prompts"][0], new]


def test_inject_details_writes_the_bible_into_the_prompt(tmp_path):
    script = json.loads(json.dumps(THREE))
    script["scenes"][1]["video_prompts"][0] = "Night at the sea, Lena walks on the sand. Wide shot."
    critic = ScriptedCritic({"02-01": [InjectDetails(characters=["Lena"], reason="wrong look")]})
    # Disable the preflight so the shot-level verdict is what injects.
    run, m = _run_with_critic(tmp_path, critic, script=script)
    assert "Lena (a young woman with a red braid, wearing a blue smock)" in m.shots[2].prompt


def test_heuristic_preflight_injects_details_before_the_first_render(tmp_path):
    script = json.loads(json.dumps(THREE))
    script["scenes"][1]["video_prompts"][0] = "Night at the sea, Lena walks on the sand. Wide shot."
    run, m = _run_with_critic(tmp_path, HeuristicCritic(), script=script)
    s = m.shots[2]
    assert s.attempts == 1
    assert "Lena (a young woman with a red braid, wearing a blue smock) walks" in s.prompt
    assert s.verdicts[0].stage == "preflight" and s.verdicts[0].verdict.action == "inject_details"


def test_swap_keyframes_drops_memory_for_the_retry(tmp_path):
    class DropFirst(ScriptedCritic):
        def critique(self, inp):
            if inp.shot_id == "02-01" and inp.attempt == 1:
                self.seen.append(inp)
                return CritiqueReport(critic=self.name, attempt=1,
                                      verdict=SwapKeyframes(drop=[inp.memory_ids[0]], reason="copied"))
            return super().critique(inp)

    critic = DropFirst({})
    run, m = _run_with_critic(tmp_path, critic)
    first = [i for i in critic.seen if i.shot_id == "02-01"]
    dropped = first[0].memory_ids[0]
    assert dropped not in m.shots[2].memory_ids
    assert m.shots[2].directives.memory_drop == [dropped]
    assert m.shots[2].attempts == 2


def test_retry_budget_per_shot_and_total(tmp_path):
    always = ScriptedCritic({"01-01": [Rerender(reason="x")] * 10, "01-02": [Rerender(reason="x")] * 10,
                             "02-01": [Rerender(reason="x")] * 10})
    settings = RunSettings(seed=1, width=160, height=96, num_frames=17, max_retries=2, max_total_retries=3)
    run, m = _run_with_critic(tmp_path, always, settings)
    assert [s.attempts for s in m.shots] == [3, 2, 1]  # 2 retries, then 1 (total budget 3), then none
    assert m.total_retries == 3
    assert m.status == "complete"
    assert any("retry budget" in n for n in m.notices)


def test_routes_are_pure():
    assert routes.after_prepare({"reuse": True}) == "update_memory"
    assert routes.after_prepare({"reuse": False}) == "render"
    base = {"attempt": 1, "max_retries": 2, "total_retries": 0, "max_total_retries": 5}
    assert routes.after_critique({**base, "verdict": "accept"}) == "update_memory"
    assert routes.after_critique({**base, "verdict": "rerender"}) == "apply_verdict"
    assert routes.after_critique({**base, "verdict": "rerender", "attempt": 3}) == "update_memory"
    assert routes.after_critique({**base, "verdict": "rerender", "total_retries": 5}) == "update_memory"
    assert routes.after_memory({"cursor": 2, "n_shots": 3}) == "prepare"
    assert routes.after_memory({"cursor": 3, "n_shots": 3}) == "assemble"


def test_memory_sink_and_window_in_a_longer_film(tmp_path):
    scenes = [{"scene_num": i + 1, "video_prompts": [
        f"Scene {i}: {['dawn', 'noon', 'sunset', 'night', 'rain', 'snow', 'fog'][i]} over a "
        f"{['harbour', 'desert', 'forest', 'city', 'market', 'mountain', 'lake'][i]}. Wide shot, pan left."],
        "cut": [True]} for i in range(7)]
    script = {"story_name": "long", "story_overview": "seven places", "scenes": scenes}
    settings = RunSettings(seed=2, width=160, height=96, num_frames=17, memory=MemorySettings(max_size=4, sink_size=2))
    run, m = _run_with_critic(tmp_path, HeuristicCritic(), settings, script=script, bible=None)
    bank = MemoryBank.load(run.root)
    order = [k.id for k in bank.state.keyframes]
    for s in m.shots:
        assert len(s.memory_ids) <= 4
    last = m.shots[-1].memory_ids
    assert last[:2] == order[:2]  # the sink: the film's first keyframes stay
    assert last[2:] == [k for k in order if k not in order[:2] and not k.startswith(m.shots[-1].shot_id)][-2:]
