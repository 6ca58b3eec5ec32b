"""The planner and the reviser against a real model: llama.cpp's server (xllamacpp) serving
SmolLM2-135M-Instruct on 127.0.0.1 with a 2,048-token context (tests/llama_server.py), exactly as a
new user would run them: only ``OPENAI_BASE_URL`` set.

These reproduce the three failures reported with this setup: ``plan`` silently used the offline
planner; the planner's request exceeded the 2,048-token context (HTTP 400); answers hit the total
timeout and a 7-character bible sank the plan. They run in CI (``slow``); locally they skip until
the GGUF is fetched (``python -m tests.llama_server --fetch``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agents.llm import ContextOverflow, LLMClient, LLMConfig, llm_config
from story.details import has_details
from story.io import load_bible, load_script
from tests.llama_server import MODEL_ALIAS, llama_server  # noqa: F401
from tests.test_revision import ALL_CUTS, render

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def only_base_url(url: str) -> dict[str, str]:
    """The environment of a new user who set OPENAI_BASE_URL and nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DAILIES_LLM", "DAILIES_VLM"))}
    env["OPENAI_BASE_URL"] = url
    env["PYTHONPATH"] = str(REPO)
    return env


class Names(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Short strings too: the grammar bounds the answer, so a sampled run-on name cannot hit the token cap
    # (CI once saw "123_Maverick_Sea_Raven_..." cut off at 80 tokens, four times).
    names: list[Annotated[str, Field(max_length=24)]] = Field(max_length=2)


def test_server_endpoints_streaming_and_constrained_decoding(llama_server):
    root = llama_server.url[: -len("/v1")]
    models = httpx.get(llama_server.url + "/models", timeout=10).json()["data"]
    assert [m["id"] for m in models] == [MODEL_ALIAS] and models[0]["meta"]["n_ctx"] == 2048
    assert httpx.get(root + "/props", timeout=10).json()["default_generation_settings"]["n_ctx"] == 2048

    config, notices = llm_config(None, llama_server.url)  # a base URL alone: the one model is found
    assert config is not None and config.model == MODEL_ALIAS and "the only model served" in notices[0]
    seen = []
    client = LLMClient(config, on_progress=seen.append)
    assert client.context_window() == 2048
    ask = [{"role": "user", "content": "List six names of pirates as JSON: {\"names\": [...]}."}]
    answer = client.complete_structured(ask, Names, role="planner", label="names", max_tokens=80)
    assert 0 < len(answer.names) <= 2  # the grammar held the model to maxItems 2
    assert client.constrains is True and client.notices == []
    assert seen and seen[-1].done and seen[-1].tokens == client.usage[-1].completion_tokens > 0


def test_the_servers_context_refusal_is_one_line_and_learnt(llama_server):
    """Reported: HTTP 400 "request (2843 tokens) exceeds the available context size (2048 tokens)"."""
    wrong = LLMClient(LLMConfig(model=MODEL_ALIAS, base_url=llama_server.url, context_window=100_000))
    big = [{"role": "user", "content": "The lighthouse keeper watches the sea at dawn. " * 260}]
    with pytest.raises(ContextOverflow) as ei:
        wrong.complete_text(big, role="planner", max_tokens=16)
    msg = str(ei.value)
    assert "2048-token context" in msg and "-c 8192" in msg and "\n" not in msg
    assert wrong.context_window() == 2048  # learnt from the server's refusal


def test_plan_with_only_openai_base_url_uses_the_local_model(llama_server, tmp_path):
    """Reported: with OPENAI_BASE_URL set and no --llm-model, `plan` silently used the offline planner."""
    out = tmp_path / "story.json"
    r = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "plan", "A fox cub lost in a snowy forest searches for its mother",
         "--shots", "3", "-o", str(out), "--no-fallback"],
        capture_output=True, text=True, env=only_base_url(llama_server.url), timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"planner model: {MODEL_ALIAS}, the only model served" in r.stdout
    assert f"planner: llm:{MODEL_ALIAS}" in r.stdout and "embedded default" not in r.stdout
    assert "tokens/s" in r.stdout  # progress while the answers arrived
    script = load_script(out)
    bible = load_bible(out.with_name("story.bible.json"), script)
    assert len(script.shots()) == 3 and len(script.scenes) == 3
    assert not (tmp_path / "story.draft.json").exists()
    for shot in script.shots():
        for c in bible.in_shot(shot.id):
            assert has_details(shot.prompt, c)  # explicit details in every shot


def test_revise_with_only_openai_base_url_gives_edits_or_a_clear_message(llama_server, tmp_path):
    run = render(tmp_path, ALL_CUTS)
    before = (run / "manifest.json").read_bytes()
    r = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "revise", str(run), "make the night scenes rainy"],
        capture_output=True, text=True, env=only_base_url(llama_server.url), timeout=900, cwd=tmp_path)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    if r.returncode == 0:  # typed edits, proposed and (without --yes) not applied
        assert f"Proposed version 2 (llm:{MODEL_ALIAS})" in r.stdout and "  - " in r.stdout
        assert "Not applied" in r.stdout
    else:  # a clear one-line message; nothing changed
        assert r.returncode == 2 and "nothing was changed" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (run / "manifest.json").read_bytes() == before
    assert json.loads(before)["version"] == 1
