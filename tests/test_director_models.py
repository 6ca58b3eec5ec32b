"""The director with model backends: the LLM planner and the VLM critic against a real HTTP server
on 127.0.0.1 speaking the chat-completions API.

No model can run on this machine, so tests/chat_server.py is a scripted stand-in that answers what
a model would and records every request; everything else (the openai client, the director, the
engine, the files) is the real thing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from agents.backends import BackendOptions, build_backends
from agents.critic.vlm import VLMCritic
from agents.director.driver import drive
from agents.director.rundir import RunDir
from agents.director.runtime import Runtime
from agents.llm import LLMClient, LLMConfig
from agents.runs import load_story
from schemas import RunSettings
from tests.chat_server import ChatServer, Step, error, reply
from tests.test_director import THREE, THREE_BIBLE, write_story
from tests.test_planner_llm import plan_replies

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-test-SECRET-do-not-log-4242"


def review(action: dict) -> dict:
    return {"findings": [], "verdict": action}


def test_logline_to_film_with_llm_planner_and_vlm_critic_over_http(tmp_path):
    steps = [*plan_replies(4),
             reply(review({"action": "rerender", "reason": "the whale is blurred"}))]
    steps += [reply(review({"action": "accept", "reason": "good"}))] * 4
    with ChatServer(steps) as srv:
        env = {**os.environ, "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": srv.url}
        r = subprocess.run(
            [sys.executable, str(REPO / "main.py"), "A lonely lighthouse keeper befriends a stranded whale",
             "--out", str(tmp_path / "run"), "--llm-model", "scripted-llm", "--vlm-model", "scripted-vl",
             "--shots", "4", "--size", "160x96", "--frames", "17", "--engine", "preview"],
            capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        requests = srv.chat_requests
    run = tmp_path / "run"
    m = json.loads((run / "manifest.json").read_text())
    assert m["status"] == "complete" and len(m["shots"]) == 4
    assert m["backends"]["planner"]["name"] == "llm:scripted-llm"
    assert m["backends"]["critic"]["name"] == "vlm:scripted-vl"
    assert "planner" in r.stdout and "llm:scripted-llm" in r.stdout and "vlm:scripted-vl" in r.stdout
    # Token usage per call: 4 planner calls (the outline, 3 scenes), 5 critic calls (one retry).
    assert [u["role"] for u in m["usage"]] == ["planner"] * 4 + ["critic"] * 5
    assert m["shots"][0]["attempts"] == 2 and m["shots"][0]["directives"]["reroll"] == 1
    # Images reached the critic as data URLs; the key went to the server and nowhere else.
    assert all(len(q.image_urls) >= 2 for q in requests[4:])
    assert requests[0].headers.get("authorization") == f"Bearer {SECRET}"
    assert SECRET not in r.stdout + r.stderr
    for p in run.rglob("*"):
        if p.is_file() and p.suffix in (".json", ".txt", ".log", ".sqlite", ""):
            assert SECRET.encode() not in p.read_bytes(), p


def _vlm(srv: ChatServer) -> VLMCritic:
    return VLMCritic(LLMClient(LLMConfig(model="scripted-vl", base_url=srv.url, timeout=5, backoff=0.01),
                               sleep=lambda s: None))


def _render_with(tmp_path: Path, critic) -> tuple[RunDir, object]:
    story = write_story(tmp_path, THREE, THREE_BIBLE)
    s, b, _, _ = load_story(story)
    run = RunDir.create(tmp_path / "run", source=str(story), settings=RunSettings(seed=1, width=160, height=96, num_frames=17),
                        script=s, bible=b)
    backends, _ = build_backends(BackendOptions(engine="preview"))
    backends.critic = critic
    backends.info["critic"] = backends.info["critic"].model_copy(update={"name": critic.name, "embedded": False})
    run.manifest.backends = backends.info
    run.save()
    return run, drive(Runtime(run=run, backends=backends), fresh=True)


def test_each_vlm_verdict_is_applied_by_the_director(tmp_path):
    new_prompt = "Night at the sea, Lena, a young woman with a red braid, wearing a blue smock, runs. Wide shot."

    def swap_first_memory(req) -> Step:
        ids = re.search(r"Memory keyframe ids[^:]*: ([^\n]+)", req.text).group(1).split(", ")
        return reply(review({"action": "swap_keyframes", "drop": [ids[0]], "add": [], "reason": "copied"}))

    steps = [
        reply(review({"action": "inject_details", "characters": ["Lena"], "reason": "look drifted"})),  # 01-01 a1
        reply(review({"action": "accept", "reason": "ok"})),                                            # 01-01 a2
        reply(review({"action": "rerender", "reason": "blurred"})),                                     # 01-02 a1
        reply(review({"action": "accept", "reason": "ok"})),                                            # 01-02 a2
        Step(respond=swap_first_memory),                                                                # 02-01 a1
        reply(review({"action": "reprompt", "prompt": new_prompt, "reason": "wrong action"})),          # 02-01 a2
        reply(review({"action": "accept", "reason": "ok"})),                                            # 02-01 a3
    ]
    with ChatServer(steps) as srv:
        run, m = _render_with(tmp_path, _vlm(srv))
    s1, s2, s3 = m.shots
    assert s1.attempts == 2 and s1.directives.inject == ["Lena"]
    assert s2.attempts == 2 and s2.directives.reroll == 1
    assert s3.attempts == 3 and len(s3.directives.memory_drop) == 1
    assert s3.directives.memory_drop[0] not in s3.memory_ids
    assert s3.prompt.startswith("Night at the sea, Lena, a young woman")
    assert [v.verdict.action for v in s3.verdicts] == ["swap_keyframes", "reprompt", "accept"]
    assert m.status == "complete" and not m.notices


def test_vlm_failure_mid_run_falls_back_to_the_heuristic_critic(tmp_path):
    steps = [reply(review({"action": "accept", "reason": "ok"}))] + [error(500)] * 10
    with ChatServer(steps) as srv:
        run, m = _render_with(tmp_path, _vlm(srv))
    assert m.status == "complete" and all(s.status == "accepted" for s in m.shots)
    assert m.shots[0].verdicts[-1].critic == "vlm:scripted-vl"
    assert m.shots[1].verdicts[-1].critic == "heuristic"
    assert m.shots[2].verdicts[-1].critic == "heuristic"
    assert any("continuing with the heuristic critic" in n for n in m.notices)
    assert "fell back to heuristic" in m.backends["critic"].detail
