"""The VLM critic against a real HTTP server on 127.0.0.1 that speaks the chat-completions API.

No vision model can run on this machine, so tests/chat_server.py is a scripted stand-in: it returns
the verdicts a model would write and records every request, so we can count and decode the images
the critic sends.
"""

from __future__ import annotations

import pytest
from PIL import Image

from agents.critic.base import Critic, CriticError
from agents.critic.vlm import VLMCritic
from agents.llm import LLMClient, LLMConfig, decode_data_url
from schemas.bible import Bible, Character
from schemas.critique import (
    Accept,
    CritiqueInput,
    CritiqueReport,
    InjectDetails,
    Rerender,
    Reprompt,
    SwapKeyframes,
)
from schemas.render import RenderRequest
from tests.chat_server import ChatServer, chat_server, error, reply  # noqa: F401

MIA = Character(name="Mia", appearance="a tall woman with short silver hair", attire="a yellow raincoat",
                age="in her 60s", style="calm")
WHALE = Character(name="the whale", appearance="a huge humpback whale with barnacled skin", aliases=["whale"])
TOM = Character(name="Tom", appearance="a small boy with red curls", attire="a green jumper")


def _png(path, colour, size=(320, 180)):
    Image.new("RGB", size, colour).save(path)
    return str(path)


@pytest.fixture
def shot_input(tmp_path) -> CritiqueInput:
    mem = [_png(tmp_path / f"m{i}.png", (40 * i, 90, 200)) for i in range(5)]
    return CritiqueInput(
        shot_id="02-03",
        prompt=f"{MIA.details()} pours seawater over the whale on the beach. Medium shot.",
        cut=False,
        characters=[MIA, WHALE],
        bible=[MIA, WHALE, TOM],
        video=str(tmp_path / "shot.mp4"),
        sample_frames=[_png(tmp_path / "s0.png", (250, 0, 0)), _png(tmp_path / "s1.png", (0, 250, 0)),
                       _png(tmp_path / "s2.png", (0, 0, 250))],
        keyframes=[_png(tmp_path / "k1.png", (200, 200, 0)), _png(tmp_path / "k2.png", (0, 200, 200))],
        memory=mem,
        memory_ids=["ref-mia-0", "01-01-k1", "01-02-k1", "02-01-k1", "02-02-k2"],
        previous_last_frame=_png(tmp_path / "prev.png", (10, 10, 10)),
        attempt=2,
    )


def critic(server: ChatServer, **kw) -> VLMCritic:
    cfg = LLMConfig(model="scripted-vl", base_url=server.url, timeout=5, backoff=0.01, **kw)
    return VLMCritic(LLMClient(cfg, sleep=lambda s: None))


def review(verdict: dict, findings=()) -> dict:
    return {"findings": list(findings), "verdict": verdict}


def test_sends_labelled_images_as_data_urls(chat_server, shot_input):
    chat_server.script(reply(review({"action": "accept", "reason": "looks right"})))
    c = critic(chat_server)
    assert isinstance(c, Critic) and c.name == "vlm:scripted-vl"
    report = c.critique(shot_input)
    assert isinstance(report, CritiqueReport) and report.critic == "vlm:scripted-vl"
    assert report.attempt == 2 and report.stage == "shot" and isinstance(report.verdict, Accept)

    [req] = chat_server.chat_requests
    urls = req.image_urls
    # previous last frame + first sample + 2 keyframes + last sample + one memory contact sheet
    assert len(urls) == 6
    assert all(u.startswith("data:image/jpeg;base64,") for u in urls)
    first = decode_data_url(urls[1])
    assert first.size == (320, 180) and first.getpixel((10, 10))[0] > 200  # the red first frame
    sheet = decode_data_url(urls[-1])
    assert sheet.width > 2 * 224  # a grid, not a single memory image
    text = req.text
    assert "Image 6: contact sheet of the 5 memory keyframes" in text
    assert "ref-mia-0, 01-01-k1, 01-02-k1, 02-01-k1, 02-02-k2" in text
    assert "cut=false" in text and MIA.details() in text and "Mia, the whale, Tom" in text
    assert "attempt 2" in text
    assert req.messages[0]["role"] == "system"
    assert req.response_format["json_schema"]["name"] == "VLMReview"
    assert [(u.role, u.shot_id) for u in c.client.usage] == [("critic", "02-03")]


def test_first_shot_without_memory(chat_server, shot_input):
    first = shot_input.model_copy(update=dict(cut=True, memory=[], memory_ids=[], previous_last_frame=None,
                                              keyframes=shot_input.keyframes[:1], attempt=1))
    chat_server.script(reply(review({"action": "accept", "reason": "fine"})))
    critic(chat_server).critique(first)
    req = chat_server.chat_requests[0]
    assert len(req.image_urls) == 3  # first sample, one keyframe, last sample
    assert "memory bank is empty" in req.text and "cut=true" in req.text


@pytest.mark.parametrize(
    "verdict, kind",
    [
        ({"action": "accept", "reason": "good"}, Accept),
        ({"action": "rerender", "reason": "motion blur on the whale"}, Rerender),
        ({"action": "inject_details", "characters": ["mia", "Whale"], "reason": "Mia lost her coat"}, InjectDetails),
        ({"action": "swap_keyframes", "drop": ["01-02-k1"], "add": [], "reason": "wrong beach"}, SwapKeyframes),
        ({"action": "reprompt", "prompt": "Mia kneels by the whale at dusk. Close-up.", "reason": "too dark"},
         Reprompt),
    ],
)
def test_each_verdict_is_parsed(chat_server, shot_input, verdict, kind):
    findings = [{"check": "characters", "severity": "major", "message": "coat is blue", "value": None}]
    chat_server.script(reply(review(verdict, findings)))
    report = critic(chat_server).critique(shot_input)
    assert isinstance(report.verdict, kind)
    assert report.findings[0].check == "characters"
    if kind is InjectDetails:
        assert report.verdict.characters == ["Mia", "the whale"]  # canonical bible names
    if kind is Reprompt:  # the cast's explicit details are written into the new prompt
        assert report.verdict.prompt.startswith(MIA.details())
        assert WHALE.appearance in report.verdict.prompt
    if kind is SwapKeyframes:
        assert report.verdict.drop == ["01-02-k1"]


def test_invented_keyframe_ids_are_fed_back(chat_server, shot_input):
    chat_server.script(
        reply(review({"action": "swap_keyframes", "drop": ["09-09-k9"], "add": [], "reason": "x"})),
        reply(review({"action": "swap_keyframes", "drop": ["01-01-k1"], "add": ["07-01-k1"], "reason": "x"})),
        reply(review({"action": "swap_keyframes", "drop": ["01-01-k1"], "add": [], "reason": "x"})),
    )
    report = critic(chat_server).critique(shot_input)
    assert report.verdict.drop == ["01-01-k1"]
    second, third = chat_server.chat_requests[1:]
    assert "'09-09-k9'" in second.messages[-1]["content"] and "02-02-k2" in second.messages[-1]["content"]
    assert "leave 'add' empty" in third.messages[-1]["content"]
    assert len(third.image_urls) == 6  # the images travel again with the retry


def test_unknown_character_is_fed_back(chat_server, shot_input):
    chat_server.script(
        reply(review({"action": "inject_details", "characters": ["Captain Nemo"], "reason": "x"})),
        reply(review({"action": "inject_details", "characters": ["Tom"], "reason": "x"})),
    )
    report = critic(chat_server).critique(shot_input)
    assert report.verdict.characters == ["Tom"]
    assert "'Captain Nemo', not in the bible" in chat_server.chat_requests[1].messages[-1]["content"]


def test_schema_breaking_verdict_retried_then_critic_error(chat_server, shot_input):
    chat_server.script(*[reply(review({"action": "delete_everything", "reason": "x"}))] * 4)
    with pytest.raises(CriticError) as ei:
        critic(chat_server).critique(shot_input)
    assert "vlm:scripted-vl" in str(ei.value) and "02-03" in str(ei.value) and "\n" not in str(ei.value)
    assert len(chat_server.chat_requests) == 4


def test_endpoint_failure_is_critic_error(chat_server, shot_input):
    chat_server.script(*[error(503, "overloaded")] * 2)
    with pytest.raises(CriticError) as ei:
        critic(chat_server, max_retries=1).critique(shot_input)
    assert "HTTP 503" in str(ei.value)


def test_text_only_model_rejecting_images_is_critic_error(shot_input):
    with ChatServer([], reject_formats={"json_schema", "json_object", "text"}) as srv:
        with pytest.raises(CriticError):
            critic(srv).critique(shot_input)


def test_unreadable_image_is_critic_error(chat_server, shot_input, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    bad = shot_input.model_copy(update={"keyframes": [str(broken)]})
    with pytest.raises(CriticError) as ei:
        critic(chat_server).critique(bad)
    assert "could not read an image" in str(ei.value)
    assert chat_server.requests == []


def test_preflight_checks_details_without_a_model_call(chat_server):
    c = critic(chat_server)
    bible = Bible(characters=[MIA, WHALE], cast={"01-01": ["Mia", "the whale"]})
    bare = RenderRequest(shot_id="01-01", prompt="Mia walks along the beach toward the whale.", mode="t2v", seed=1)
    report = c.preflight(bare, bible)
    assert report is not None and report.stage == "preflight"
    assert isinstance(report.verdict, InjectDetails) and report.verdict.characters == ["Mia", "the whale"]
    ok = bare.model_copy(update={"prompt": f"{MIA.details()} walks toward {WHALE.details()}."})
    assert c.preflight(ok, bible) is None
    assert chat_server.requests == []
