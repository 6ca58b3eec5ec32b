"""Which model, and how big its context: discovery from a base URL alone, the context window where
the server says it, and the CLI with only ``OPENAI_BASE_URL`` set (scripted server; the same with a
real model is in tests/test_local_llm.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agents.llm import ConfigError, EndpointUnreachable, LLMClient, LLMConfig, llm_config, read_context_window
from story.io import load_script
from tests.chat_server import ChatServer, error, reply
from tests.test_planner_llm import plan_replies

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-test-SECRET-31337-discovery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_key_alone_turns_nothing_on():
    assert llm_config(env={"OPENAI_API_KEY": KEY}) == (None, [])


def test_one_model_is_used_with_a_notice():
    with ChatServer(models=["qwen2.5-1.5b"]) as srv:
        config, notices = llm_config(env={"OPENAI_BASE_URL": srv.url, "OPENAI_API_KEY": KEY})
        assert config is not None and config.model == "qwen2.5-1.5b" and config.api_key.reveal() == KEY
        [note] = notices
        assert "qwen2.5-1.5b" in note and "OPENAI_BASE_URL" in note and "--llm-model" in note
        assert srv.requests[0].path == "/v1/models" and srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
        # a named model is used as is, without asking
        named, none = llm_config("other", env={"OPENAI_BASE_URL": srv.url})
        assert named.model == "other" and none == [] and len(srv.requests) == 1


def test_several_models_are_a_one_line_error_listing_them():
    with ChatServer(models=["llama3.2", "qwen2.5", "mistral"]) as srv:
        with pytest.raises(ConfigError) as ei:
            llm_config(base_url=srv.url, env={})
    msg = str(ei.value)
    assert "\n" not in msg and "3 models" in msg and "llama3.2, mistral, qwen2.5" in msg and "--llm-model" in msg


def test_nothing_answering_is_a_one_line_error_naming_the_variable():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EndpointUnreachable) as ei:
        llm_config(env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": KEY})
    msg = str(ei.value)
    assert "OPENAI_BASE_URL" in msg and "unset OPENAI_BASE_URL" in msg and "\n" not in msg and KEY not in msg


def test_the_vision_role_is_never_discovered():
    with ChatServer(models=["text-only"]) as srv:
        assert llm_config(role="vlm", env={"OPENAI_BASE_URL": srv.url}) == (None, [])
        assert srv.requests == []


def test_context_window_where_the_server_says_it():
    with ChatServer(context=32768) as vllm:  # vLLM: max_model_len in /v1/models
        assert read_context_window(vllm.url, "scripted-model") == 32768
    with ChatServer(props_context=4096) as llama:  # llama.cpp: /props
        assert read_context_window(llama.url, "scripted-model") == 4096
        assert LLMClient(LLMConfig(model="m", base_url=llama.url)).context_window() == 4096
        assert LLMClient(LLMConfig(model="m", base_url=llama.url, context_window=1024)).context_window() == 1024
    with ChatServer() as silent:
        assert read_context_window(silent.url, "scripted-model") is None
    assert read_context_window(f"http://127.0.0.1:{free_port()}/v1", "m") is None


def _plan(tmp_path: Path, env_extra: dict[str, str], *flags: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DAILIES_LLM", "DAILIES_VLM"))}
    env.update(env_extra, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "main.py"), "plan", "A lonely lighthouse keeper befriends a whale",
                           "--shots", "3", "-o", str(tmp_path / "story.json"), *flags],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)


def test_cli_plan_with_only_openai_base_url_uses_the_served_model(tmp_path):
    """Reported: with OPENAI_BASE_URL set and no --llm-model, `plan` silently used the offline planner."""
    with ChatServer(plan_replies(3), models=["local-model"]) as srv:
        r = _plan(tmp_path, {"OPENAI_BASE_URL": srv.url})
        assert r.returncode == 0, r.stderr
        assert len(srv.chat_requests) == 4 and srv.chat_requests[0].body["model"] == "local-model"
    assert "planner model: local-model, the only model served" in r.stdout
    assert "planner: llm:local-model" in r.stdout
    assert load_script(tmp_path / "story.json").story_name == "The Keeper and the Whale"


def test_cli_plan_falls_back_with_a_notice_or_fails_with_no_fallback(tmp_path):
    with ChatServer([error(400, "model not loaded")] * 8, models=["local-model"]) as srv:
        r = _plan(tmp_path, {"OPENAI_BASE_URL": srv.url})
        assert r.returncode == 0, r.stderr
        assert "the offline planner wrote the plan instead" in r.stdout and "--no-fallback" in r.stdout
        assert "planner: offline, after the model failed" in r.stdout
        (tmp_path / "story.json").unlink()
        r = _plan(tmp_path, {"OPENAI_BASE_URL": srv.url}, "--no-fallback")
    assert r.returncode == 2 and r.stderr.startswith("error: LLM planner failed at the outline")
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "story.json").exists()


def test_cli_plan_with_several_models_is_exit_2_before_any_work(tmp_path):
    with ChatServer(models=["a-model", "b-model"]) as srv:
        r = _plan(tmp_path, {"OPENAI_BASE_URL": srv.url})
        assert srv.chat_requests == []
    assert r.returncode == 2 and "a-model, b-model" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_film_whose_plan_was_cut_short_resumes_from_the_scenes_written(tmp_path):
    """`main.py "LOGLINE"` with the model failing at scene 2 (and --no-fallback): one-line error, the
    outline and scene 1 kept in the run; `resume` asks only for the scenes not written yet."""
    from tests.test_planner_llm import outline, scene

    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DAILIES_LLM", "DAILIES_VLM"))}
    film = [sys.executable, str(REPO / "main.py"), "A lonely lighthouse keeper befriends a whale", "--out", str(run),
            "--shots", "4", "--no-fallback", "--engine", "preview", "--size", "160x96", "--frames", "17", "--quiet"]
    with ChatServer([reply(outline(3)), reply(scene(2)), *[error(400, "model crashed")] * 4], models=["m"]) as srv:
        r = subprocess.run(film, env={**env, "OPENAI_BASE_URL": srv.url, "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2 and "LLM planner failed at scene 2 of 3" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    kept = json.loads((run / "plan.draft.json").read_text())
    assert len(kept["scenes"]) == 1
    with ChatServer([reply(scene(1)), reply(scene(1))], models=["m"]) as srv:
        r = subprocess.run([sys.executable, str(REPO / "main.py"), "resume", str(run), "--quiet"],
                           env={**env, "OPENAI_BASE_URL": srv.url, "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert [q.response_format["json_schema"]["name"] for q in srv.chat_requests] == ["SceneDraft"] * 2
    m = json.loads((run / "manifest.json").read_text())
    assert m["status"] == "complete" and len(m["shots"]) == 4 and not (run / "plan.draft.json").exists()
    assert any("resuming the plan" in n for n in m["notices"])
