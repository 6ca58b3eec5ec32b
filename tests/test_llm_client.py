"""The OpenAI-compatible client against a real HTTP server on 127.0.0.1.

The server (tests/chat_server.py) is a scripted stand-in that speaks the chat-completions API and
records requests: no model can run on this machine, so its answers are scripted, but the official
``openai`` client talks to it over real HTTP, exactly as it would to OpenAI, vLLM, Ollama or llama.cpp.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
from pydantic import BaseModel, ConfigDict, Field

import prompts
from agents.llm import (
    AuthenticationFailed,
    BadOutput,
    ConfigError,
    EndpointError,
    EndpointTimeout,
    EndpointUnreachable,
    LLMClient,
    LLMConfig,
    ModelNotFound,
    RateLimited,
    Secret,
)
from agents.llm.structured import parse_json, strict_schema
from schemas.critique import CritiqueReport
from tests.chat_server import ChatServer, chat_server, error, rate_limited, raw, reply, slow  # noqa: F401

KEY = "sk-test-SECRET-7f3a9c2e1b"


class Pet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=20)
    legs: int = Field(ge=0, le=8)


GOOD = {"name": "Rex", "legs": 4}
ASK = [{"role": "system", "content": "You name pets."}, {"role": "user", "content": "A dog."}]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(server: ChatServer, sleeps: Sleeps | None = None, **kw) -> LLMClient:
    cfg = dict(model="scripted-model", base_url=server.url, api_key=KEY, timeout=2.0, backoff=0.01)
    cfg.update(kw)
    return LLMClient(LLMConfig(**cfg), sleep=sleeps if sleeps is not None else (lambda s: None))


def assert_no_key(*texts: object) -> None:
    for t in texts:
        assert KEY not in str(t), f"the API key leaked into: {t!r}"


# -- structured output and its fallbacks ---------------------------------------------------------

def test_json_schema_used_when_supported(chat_server):
    chat_server.script(reply(GOOD))
    client = make(chat_server)
    pet = client.complete_structured(ASK, Pet, role="planner")
    assert pet == Pet(**GOOD)
    [req] = chat_server.chat_requests
    assert req.format_type == "json_schema"
    js = req.response_format["json_schema"]
    assert js["name"] == "Pet" and js["strict"] is True
    assert js["schema"]["additionalProperties"] is False
    assert js["schema"]["required"] == ["name", "legs"]
    assert req.body["model"] == "scripted-model"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert client.format_mode == "json_schema"


def test_json_object_fallback_when_json_schema_rejected_and_remembered():
    with ChatServer([reply(GOOD), reply(GOOD)], reject_formats={"json_schema"}) as srv:
        client = make(srv)
        assert client.complete_structured(ASK, Pet, role="planner") == Pet(**GOOD)
        # json_schema with its limits, then the plain strict schema, then json_object
        assert [r.format_type for r in srv.chat_requests] == ["json_schema", "json_schema", "json_object"]
        limited, plain = (r.response_format["json_schema"]["schema"]["properties"]["name"] for r in srv.chat_requests[:2])
        assert limited["maxLength"] == 20 and "maxLength" not in plain
        # the schema travels in the prompt when the endpoint can't take it as response_format
        assert '"legs"' in srv.chat_requests[2].messages[0]["content"]
        assert client.format_mode == "json_object"
        client.complete_structured(ASK, Pet, role="planner")
        assert [r.format_type for r in srv.chat_requests][3:] == ["json_object"]


def test_plain_text_fallback_with_schema_in_prompt():
    with ChatServer([reply("Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```")],
                    reject_formats={"json_schema", "json_object"}) as srv:
        client = make(srv)
        assert client.complete_structured(ASK, Pet, role="planner") == Pet(**GOOD)
        reqs = srv.chat_requests
        assert [r.format_type for r in reqs] == ["json_schema", "json_schema", "json_object", "text"]
        assert "response_format" not in reqs[3].body
        system = reqs[3].messages[0]["content"]
        assert system.startswith("You name pets.") and "JSON Schema" in system and '"legs"' in system
        assert client.format_mode == "text"


def test_every_format_rejected_is_a_clear_error():
    with ChatServer([], reject_formats={"json_schema", "json_object", "text"}) as srv:
        client = make(srv)
        with pytest.raises(EndpointError) as ei:
            client.complete_structured(ASK, Pet, role="planner")
        msg = str(ei.value)
        assert "\n" not in msg and srv.url.split("//")[1].split("/")[0] in msg and "scripted-model" in msg
        assert client.format_mode == "json_schema"  # nothing learned from a failure


def test_forced_format_does_not_fall_back():
    with ChatServer([], reject_formats={"json_object"}) as srv:
        client = make(srv, response_format="json_object")
        with pytest.raises(EndpointError):
            client.complete_structured(ASK, Pet, role="planner")
        assert [r.format_type for r in srv.chat_requests] == ["json_object"]


# -- validation retries ---------------------------------------------------------------------------

def test_schema_violation_retried_with_the_error_fed_back(chat_server):
    chat_server.script(reply({"name": "Rex", "legs": 12}), reply(GOOD))
    client = make(chat_server)
    assert client.complete_structured(ASK, Pet, role="planner") == Pet(**GOOD)
    first, second = chat_server.chat_requests
    assert len(second.messages) == len(first.messages) + 2
    assert second.messages[-2] == {"role": "assistant", "content": '{"name": "Rex", "legs": 12}'}
    feedback = second.messages[-1]["content"]
    assert "legs" in feedback and "less than or equal to 8" in feedback
    assert len(client.usage) == 2


def test_malformed_json_retried_then_success(chat_server):
    chat_server.script(reply('{"name": "Rex", "legs": '), reply("<think>hmm</think>" + json.dumps(GOOD)))
    client = make(chat_server)
    assert client.complete_structured(ASK, Pet, role="planner") == Pet(**GOOD)
    feedback = chat_server.chat_requests[1].messages[-1]["content"]
    assert "not valid JSON" in feedback
    assert '"legs"' in feedback  # not even JSON in json_schema mode: the schema is repeated


def test_persistent_bad_output_gives_up_after_three_retries(chat_server):
    chat_server.script(*[reply({"name": "", "legs": -1})] * 4)
    client = make(chat_server)
    with pytest.raises(BadOutput) as ei:
        client.complete_structured(ASK, Pet, role="planner")
    assert len(chat_server.chat_requests) == 4  # 1 + 3 retries
    assert "\n" not in str(ei.value) and "Pet" in str(ei.value)
    assert chat_server.remaining == 0


def test_postprocess_error_counts_as_invalid_output(chat_server):
    chat_server.script(reply({"name": "Tom", "legs": 4}), reply(GOOD))
    client = make(chat_server)

    def only_rex(p: Pet) -> str:
        if p.name != "Rex":
            raise ValueError(f"name {p.name!r} is not allowed: use Rex")
        return p.name.upper()

    assert client.complete_structured(ASK, Pet, role="planner", postprocess=only_rex) == "REX"
    assert "use Rex" in chat_server.chat_requests[1].messages[-1]["content"]


def test_cut_off_answer_says_so(chat_server):
    chat_server.script(reply('{"name": "Re', finish_reason="length"), reply(GOOD))
    make(chat_server).complete_structured(ASK, Pet, role="planner")
    assert "token limit" in chat_server.chat_requests[1].messages[-1]["content"]


# -- transport faults -----------------------------------------------------------------------------

def test_timeout_then_success(chat_server):
    chat_server.script(slow(1.5, reply(GOOD)), reply(GOOD))
    sleeps = Sleeps()
    client = make(chat_server, sleeps, timeout=0.3)
    assert client.complete_structured(ASK, Pet, role="planner") == Pet(**GOOD)
    assert len(chat_server.chat_requests) == 2 and sleeps == [0.01]


def test_persistent_timeout_is_endpoint_timeout(chat_server):
    chat_server.script(*[slow(1.0, reply(GOOD))] * 2)
    client = make(chat_server, timeout=0.2, max_retries=1)
    with pytest.raises(EndpointTimeout) as ei:
        client.complete_text(ASK, role="planner")
    assert isinstance(ei.value, EndpointUnreachable)
    assert "0.2s" in str(ei.value) and "2 attempts" in str(ei.value)


def test_500_retried_with_exponential_backoff(chat_server):
    chat_server.script(error(500), error(502), error(503), reply(GOOD))
    sleeps = Sleeps()
    client = make(chat_server, sleeps, backoff=0.5, max_backoff=1.5)
    assert client.complete_structured(ASK, Pet, role="planner") == Pet(**GOOD)
    assert sleeps == [0.5, 1.0, 1.5]  # doubled each time, capped


def test_429_honours_retry_after(chat_server):
    chat_server.script(rate_limited(0.05), rate_limited(), reply(GOOD))
    sleeps = Sleeps()
    client = make(chat_server, sleeps, backoff=0.01)
    client.complete_structured(ASK, Pet, role="planner")
    assert sleeps == [0.05, 0.02]  # server's Retry-After, then our own backoff (second retry)


def test_429_with_an_excessive_retry_after_fails_fast(chat_server):
    chat_server.script(rate_limited(3600))
    sleeps = Sleeps()
    with pytest.raises(RateLimited) as ei:
        make(chat_server, sleeps).complete_text(ASK, role="planner")
    assert sleeps == [] and "3600s" in str(ei.value)


def test_persistent_500_is_one_line_and_never_shows_the_key(chat_server, caplog):
    caplog.set_level(logging.DEBUG)
    chat_server.script(*[error(500, f"upstream exploded; your key was {KEY}")] * 4)
    client = make(chat_server)
    with pytest.raises(EndpointError) as ei:
        client.complete_structured(ASK, Pet, role="planner")
    msg = str(ei.value)
    assert "\n" not in msg and "HTTP 500" in msg and "4 attempts" in msg and "scripted-model" in msg
    assert ei.value.__cause__ is None and ei.value.__suppress_context__
    assert_no_key(msg, repr(ei.value), repr(client), str(client), client.describe(),
                  repr(client.config), str(client.config), client.config.api_key)
    assert_no_key(*(r.getMessage() for r in caplog.records))
    assert len(chat_server.chat_requests) == 4


def test_auth_failure_redacts_an_echoed_key(chat_server, caplog):
    caplog.set_level(logging.DEBUG)
    chat_server.script(error(401, f"Incorrect API key provided: {KEY}."))
    with pytest.raises(AuthenticationFailed) as ei:
        make(chat_server).complete_text(ASK, role="planner")
    assert "401" in str(ei.value) and "OPENAI_API_KEY" in str(ei.value)
    assert_no_key(str(ei.value), *(r.getMessage() for r in caplog.records))
    assert len(chat_server.chat_requests) == 1  # never retried


def test_unreachable_port_is_endpoint_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = LLMClient(LLMConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                                 timeout=2, max_retries=1, backoff=0.01))
    with pytest.raises(EndpointUnreachable) as ei:
        client.complete_structured(ASK, Pet, role="planner")
    msg = str(ei.value)
    assert f"127.0.0.1:{port}" in msg and "OPENAI_BASE_URL" in msg and "\n" not in msg
    assert_no_key(msg)


def test_unknown_model_is_model_not_found_listing_served_models():
    with ChatServer([], models=["qwen2.5-7b", "llava"], strict_models=True) as srv:
        client = LLMClient(LLMConfig(model="gpt-9", base_url=srv.url, backoff=0.01))
        with pytest.raises(ModelNotFound) as ei:
            client.complete_text(ASK, role="planner")
        msg = str(ei.value)
        assert "'gpt-9'" in msg and "qwen2.5-7b" in msg and "llava" in msg
        assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in srv.requests][-2:] == [
            ("POST", "completions"), ("GET", "models")]


def test_http_body_that_is_not_json(chat_server):
    chat_server.script(raw("<html>proxy error</html>"))
    with pytest.raises(EndpointError) as ei:
        make(chat_server).complete_text(ASK, role="planner")
    assert "not a chat completion" in str(ei.value)


# -- usage, config, secrets ---------------------------------------------------------------------

def test_usage_recorded_per_call(chat_server):
    chat_server.script(reply({"name": "x", "legs": 99}, prompt_tokens=100, completion_tokens=20),
                       reply(GOOD, prompt_tokens=130, completion_tokens=10))
    client = make(chat_server)
    client.complete_structured(ASK, Pet, role="critic", shot_id="01-02")
    assert [(u.role, u.model, u.prompt_tokens, u.completion_tokens, u.shot_id) for u in client.usage] == [
        ("critic", "scripted-model", 100, 20, "01-02"),
        ("critic", "scripted-model", 130, 10, "01-02"),
    ]


def test_no_key_sends_a_placeholder(chat_server):
    chat_server.script(reply("hello"))
    client = LLMClient(LLMConfig(model="m", base_url=chat_server.url))
    assert client.complete_text(ASK, role="planner") == "hello"
    assert chat_server.chat_requests[0].headers["authorization"] == "Bearer no-key-needed"


def test_config_from_env_precedence_and_secrecy():
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://gpu-box:8000/v1",
           "DAILIES_VLM_MODEL": "qwen2.5-vl", "DAILIES_VLM_BASE_URL": "http://vision:9000/v1",
           "DAILIES_LLM_TIMEOUT": "45"}
    assert LLMConfig.from_env(env=env) is None  # a key alone never turns a model on
    llm = LLMConfig.from_env(model="qwen2.5", env=env)
    assert (llm.model, llm.base_url, llm.timeout) == ("qwen2.5", "http://gpu-box:8000/v1", 45.0)
    assert llm.api_key == Secret(KEY) and llm.api_key.reveal() == KEY
    vlm = LLMConfig.from_env(role="vlm", env=env)
    assert (vlm.model, vlm.base_url) == ("qwen2.5-vl", "http://vision:9000/v1")
    flag = LLMConfig.from_env(model="m", base_url="http://127.0.0.1:1234/v1", env=env)
    assert flag.base_url == "http://127.0.0.1:1234/v1"
    assert LLMConfig.from_env(model="gpt-4o-mini", env={}).url == "https://api.openai.com/v1"
    for c in (llm, vlm, flag):
        assert_no_key(repr(c), str(c), f"{c}", c.describe(), f"{c.api_key}", repr(c.api_key))
    userinfo = LLMConfig(model="m", base_url=f"http://user:{KEY}@host:8000/v1?key={KEY}")
    assert userinfo.describe() == "openai-compatible http://host:8000/v1 model=m"
    with pytest.raises(ConfigError):
        LLMConfig(model="m", base_url="localhost:8000")
    with pytest.raises(ConfigError):
        LLMConfig.from_env(model="m", env={"DAILIES_LLM_TIMEOUT": "soon"})


# -- helpers ------------------------------------------------------------------------------------

def test_strict_schema_of_the_verdict_union_is_strict_mode_compatible():
    schema, ok = strict_schema(CritiqueReport)
    assert ok
    text = json.dumps(schema)
    assert '"oneOf"' not in text and '"discriminator"' not in text and '"maxLength"' not in text

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node:
                assert node["additionalProperties"] is False
                assert set(node["required"]) == set(node["properties"])
            assert not ("$ref" in node and len(node) > 1)
            for k, v in node.items():
                walk(v if k not in ("properties", "$defs") else list(v.values()))
        elif isinstance(node, list):
            for x in node:
                walk(x)

    walk(schema)


def test_dict_fields_cannot_be_strict():
    class Cast(BaseModel):
        cast: dict[str, list[str]]

    _, ok = strict_schema(Cast)
    assert not ok


def test_parse_json_tolerance():
    assert parse_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json('Here you go: {"a": {"b": [1, 2]}} Hope it helps!') == {"a": {"b": [1, 2]}}
    assert parse_json("<think>{not this}</think>\n{\"a\": 2}") == {"a": 2}
    for bad in ("", "   ", "no json here", '{"a": '):
        with pytest.raises(ValueError):
            parse_json(bad)


def test_prompt_templates_are_strict():
    assert {"llm_schema", "llm_retry"} <= set(prompts.names())
    with pytest.raises(prompts.PromptError, match="'llm_schema' needs variable 'schema'"):
        prompts.render("llm_schema", schema_name="Pet")
    with pytest.raises(prompts.PromptError, match="does not use variable 'colour'"):
        prompts.render("llm_schema", schema_name="Pet", schema="{}", colour="red")
    with pytest.raises(prompts.PromptError, match="no prompt template named"):
        prompts.render("nope")
    with pytest.raises(prompts.PromptError):
        prompts.render("../pyproject")
    out = prompts.render("llm_schema", schema_name="Pet", schema='{"$ref": "x"}')
    assert '{"$ref": "x"}' in out  # values are inserted verbatim, never re-expanded
    for name in prompts.names():
        prompts.placeholders(name)  # every shipped template parses


# -- repair without the model, and checking that json_schema constrains ---------------------------

def test_repair_fixes_limits_unknown_keys_and_defaults_and_reports_each():
    from agents.llm.repair import repair
    from schemas.edit import EditList

    answer = {"edits": [{"op": "replace_text", "old": "night", "new": "rainy night " + "very " * 80, "shots": None,
                         "why": "the model added this"}] * 70, "summary": "x"}
    fixed, notes = repair(answer, EditList.model_json_schema())
    EditList.model_validate(fixed)
    assert len(fixed["edits"]) == 64 and "why" not in fixed["edits"][0]
    assert len(fixed["edits"][0]["new"]) <= 300 and fixed["edits"][0]["new"].endswith("very")  # a word boundary
    assert notes[0] == "edits: kept the first 64 of 70 items"
    assert "edits.0: dropped the unknown field 'why'" in notes
    assert any(n.startswith("edits.0.new: shortened from") for n in notes)
    # a missing optional field takes its default; a missing required one is left for the model
    fixed, notes = repair({"edits": [{"op": "insert_shot", "anchor": "01-01", "prompt": "p"}]}, EditList.model_json_schema())
    assert fixed["edits"][0]["where"] == "after" and fixed["edits"][0]["cut"] is True
    assert "edits.0.where: missing, set to its default 'after'" in notes
    assert repair({"edits": [{"op": "edit_prompt"}]}, EditList.model_json_schema())[1] == [
        "summary: missing, set to its default ''"]
    assert repair({"x": 1}, Pet.model_json_schema()) == ({}, ["(answer): dropped the unknown field 'x'"])


def test_a_server_that_ignores_the_schema_is_noticed_and_repaired(chat_server):
    chat_server.script(reply({"name": "Rexford the Magnificent Hound", "legs": 4, "color": "brown"}),
                       reply({"name": "Rex", "legs": 4}))
    client = make(chat_server)
    assert client.complete_structured(ASK, Pet, role="planner") == Pet(name="Rexford the", legs=4)
    assert client.constrains is False and len(chat_server.chat_requests) == 1
    said = " | ".join(client.notices)
    assert "did not constrain the answer" in said and "name: shortened from 29 to at most 20" in said
    assert "dropped the unknown field 'color'" in said
    # from now on the schema also goes into the prompt
    client.complete_structured(ASK, Pet, role="planner")
    assert '"legs"' in chat_server.chat_requests[1].messages[0]["content"]


def test_a_retry_that_outgrows_the_context_drops_the_failed_answer(chat_server):
    chat_server.script(reply("x" * 1500), reply(GOOD))
    client = make(chat_server, context_window=900)
    assert client.complete_structured(ASK, Pet, role="planner", max_tokens=64) == Pet(**GOOD)
    retry = chat_server.chat_requests[1]
    assert [m["role"] for m in retry.messages] == ["system", "user", "user"]  # no assistant answer kept
    assert "not valid JSON" in retry.messages[-1]["content"]
