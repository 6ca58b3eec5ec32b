"""A scripted stand-in for an OpenAI-compatible chat-completions server, on 127.0.0.1: for FAULT
INJECTION only.

The planner and the reviser are tested against a real model behind a real server (llama.cpp's, with
SmolLM2-135M-Instruct: tests/llama_server.py). This scripted server is for what a real model can't
be made to do on demand: HTTP errors, rate limits, timeouts, answers that stall half-way, servers
that ignore ``response_format``, answers that break the schema in one precise way, and exact
assertions on the requests the client sends. The official ``openai`` client talks to it over TCP
exactly as it would talk to OpenAI, vLLM, Ollama or llama.cpp, but every answer is scripted by the
test. It answers ``POST /v1/chat/completions`` with the scripted steps in order (one step per
request; as a server-sent-event stream when the request asks for ``stream``), ``GET /v1/models``
with its model list (with ``max_model_len`` when ``context`` is set, like vLLM), ``GET /props``
with ``n_ctx`` when ``props_context`` is set (like llama.cpp), and records every request (headers
and JSON body) for assertions.

    with ChatServer([reply({"ok": True}), error(500), rate_limited(0.01), slow(2.0, reply("late"))]) as srv:
        client = LLMClient(LLMConfig(model="m", base_url=srv.url))
        ...
        assert srv.requests[0].format_type == "json_schema"

Server-wide behaviours, which consume no step: ``reject_formats={"json_schema"}`` answers 400 to any
request asking for that response format, like llama.cpp builds without schema support;
``models=[...]`` with ``strict_models=True`` answers 404 for any other model, like vLLM;
``context=N`` refuses a request whose prompt (estimated at 4 characters per token) plus
``max_tokens`` exceeds N tokens with llama.cpp's HTTP 400 ``exceed_context_size_error``.
When the script runs out, the server answers 500 "no scripted response left".
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator

import pytest

__all__ = [
    "ChatServer", "Recorded", "Step", "chat_server", "error", "rate_limited", "raw", "reply", "slow", "streaming",
]


@dataclass
class Step:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    """A dict/list is sent as JSON; str/bytes are sent as they are."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (longer than the client's timeout = a timeout)."""
    content_type: str = "application/json"
    respond: Callable[["Recorded"], "Step"] | None = None
    """Compute the answer from the request instead (the result's own ``respond`` is ignored)."""
    token_delay: float = 0.0
    """Streamed answers: seconds between two chunks (a slow model that keeps writing)."""
    stall_after: int | None = None
    """Streamed answers: stop sending after this many chunks for ``stall`` seconds (a stuck server)."""
    stall: float = 0.0


def reply(
    content: Any,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    delay: float = 0.0,
) -> Step:
    """A successful chat completion whose message content is ``content`` (a dict or pydantic model
    is sent as its JSON text; a str as it is, e.g. malformed JSON)."""
    if hasattr(content, "model_dump_json"):
        text = content.model_dump_json()
    elif isinstance(content, (dict, list)):
        text = json.dumps(content, ensure_ascii=False)
    else:
        text = str(content)
    body = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Step(body=body, delay=delay)


def streaming(step: Step, *, token_delay: float = 0.0, stall_after: int | None = None, stall: float = 0.0) -> Step:
    """``step`` streamed slowly (``token_delay`` between chunks), or stalling after ``stall_after``
    chunks for ``stall`` seconds; a request without ``stream`` gets it whole, after the same total time."""
    return Step(status=step.status, body=step.body, headers=step.headers, delay=step.delay,
                content_type=step.content_type, token_delay=token_delay, stall_after=stall_after, stall=stall)


def error(status: int, message: str = "scripted failure", *, headers: dict[str, str] | None = None,
          delay: float = 0.0) -> Step:
    """An error answer in the OpenAI error format."""
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error"}.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "code": status}}
    return Step(status=status, body=body, headers=dict(headers or {}), delay=delay)


def rate_limited(retry_after: float | str | None = None) -> Step:
    """HTTP 429, with a ``Retry-After`` header when given."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return error(429, "Rate limit reached, slow down", headers=headers)


def slow(seconds: float, then: Step) -> Step:
    """``then``, answered after ``seconds`` (a timeout when longer than the client waits)."""
    return Step(status=then.status, body=then.body, headers=then.headers, delay=seconds,
                content_type=then.content_type)


def raw(body: str | bytes, *, status: int = 200, content_type: str = "application/json") -> Step:
    """A verbatim HTTP body (e.g. broken JSON at the HTTP level)."""
    return Step(status=status, body=body if isinstance(body, bytes) else body.encode(), content_type=content_type)


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """Parsed JSON body (None for GET or a non-JSON body)."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages", []))

    @property
    def response_format(self) -> dict[str, Any] | None:
        return (self.body or {}).get("response_format")

    @property
    def format_type(self) -> str:
        """``json_schema``, ``json_object`` or ``text`` (no response_format sent)."""
        rf = self.response_format
        return rf.get("type", "text") if rf else "text"

    def parts(self) -> Iterator[dict[str, Any]]:
        """Every content part of every message (a plain string content counts as a text part)."""
        for m in self.messages:
            content = m.get("content")
            if isinstance(content, str):
                yield {"type": "text", "text": content}
            elif isinstance(content, list):
                yield from content

    @property
    def image_urls(self) -> list[str]:
        return [p["image_url"]["url"] for p in self.parts() if p.get("type") == "image_url"]

    @property
    def text(self) -> str:
        """All text of all messages, joined by blank lines."""
        return "\n\n".join(p.get("text", "") for p in self.parts() if p.get("type") == "text")


class ChatServer:
    """The scripted server (see the module docstring). Use as a context manager or the fixture."""

    def __init__(
        self,
        steps: Iterable[Step] = (),
        *,
        models: Iterable[str] = ("scripted-model",),
        strict_models: bool = False,
        reject_formats: Iterable[str] = (),
        context: int | None = None,
        props_context: int | None = None,
    ) -> None:
        self._steps: list[Step] = list(steps)
        self._lock = threading.Lock()
        self.models = list(models)
        self.strict_models = strict_models
        self.reject_formats = set(reject_formats)
        self.context = context
        self.props_context = props_context
        self.requests: list[Recorded] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------------
    def script(self, *steps: Step) -> "ChatServer":
        """Append steps to the script."""
        with self._lock:
            self._steps.extend(steps)
        return self

    @property
    def remaining(self) -> int:
        """Scripted steps not consumed yet."""
        with self._lock:
            return len(self._steps)

    @property
    def chat_requests(self) -> list[Recorded]:
        """The ``POST .../chat/completions`` requests, in order."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/chat/completions")]

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL to configure the client with: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "ChatServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _record(self) -> Recorded:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(data) if data else None
                except ValueError:
                    body = None
                rec = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with server._lock:
                    server.requests.append(rec)
                return rec

            def _stream(self, step: Step, rec: Recorded) -> None:
                """A chat completion as server-sent events: one chunk per word, then usage, then [DONE]."""
                if step.delay:
                    time.sleep(step.delay)
                choice = step.body["choices"][0]
                text = choice["message"].get("content") or ""
                words = [w for w in text.replace(" ", " \0").split("\0") if w] or [""]
                base = {"id": step.body.get("id", "chatcmpl-scripted"), "object": "chat.completion.chunk",
                        "created": step.body.get("created", 0), "model": step.body.get("model", "scripted")}
                events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                "finish_reason": None}]}]
                events += [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
                           for w in words]
                events.append({**base, "choices": [{"index": 0, "delta": {},
                                                    "finish_reason": choice.get("finish_reason", "stop")}]})
                if ((rec.body or {}).get("stream_options") or {}).get("include_usage"):
                    events.append({**base, "choices": [], "usage": step.body.get("usage")})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for k, ev in enumerate(events):
                        if step.stall_after is not None and k == step.stall_after:
                            time.sleep(step.stall)
                        elif k and step.token_delay:
                            time.sleep(step.token_delay)
                        self.wfile.write(f"data: {json.dumps(ev)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _send(self, step: Step) -> None:
                if step.delay:
                    time.sleep(step.delay)
                if step.token_delay or step.stall:  # a non-streaming client waits for the whole answer
                    time.sleep(step.token_delay * 50 + step.stall)
                body = step.body
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                elif isinstance(body, str):
                    data = body.encode()
                else:
                    data = body or b""
                try:
                    self.send_response(step.status)
                    self.send_header("Content-Type", step.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in step.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to do

            def do_GET(self) -> None:  # noqa: N802
                rec = self._record()
                if rec.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted",
                             **({"max_model_len": server.context} if server.context else {})}
                            for m in server.models]
                    self._send(Step(body={"object": "list", "data": data}))
                elif rec.path.rstrip("/") == "/props" and server.props_context:
                    self._send(Step(body={"default_generation_settings": {"n_ctx": server.props_context},
                                          "total_slots": 1}))
                else:
                    self._send(error(404, f"no route {rec.path}"))

            def do_POST(self) -> None:  # noqa: N802
                rec = self._record()
                if not rec.path.rstrip("/").endswith("/chat/completions"):
                    self._send(error(404, f"no route {rec.path}"))
                    return
                if server.strict_models and (rec.body or {}).get("model") not in server.models:
                    self._send(error(404, f"The model `{(rec.body or {}).get('model')}` does not exist."))
                    return
                if rec.format_type in server.reject_formats:
                    self._send(error(400, f"response_format type '{rec.format_type}' is not supported"))
                    return
                window = server.context or server.props_context
                if window:
                    need = len(json.dumps(rec.messages)) // 4 + int((rec.body or {}).get("max_tokens") or 0)
                    if need > window:
                        self._send(Step(status=400, body={"error": {
                            "code": 400, "type": "exceed_context_size_error", "n_ctx": window,
                            "n_prompt_tokens": need,
                            "message": f"request ({need} tokens) exceeds the available context size "
                                       f"({window} tokens), try increasing it"}}))
                        return
                with server._lock:
                    step = server._steps.pop(0) if server._steps else None
                if step is None:
                    step = error(500, "chat_server: no scripted response left")
                if step.respond is not None:
                    step = step.respond(rec)
                if (rec.body or {}).get("stream") and step.status == 200 and isinstance(step.body, dict) \
                        and step.body.get("choices"):
                    self._stream(step, rec)
                else:
                    self._send(step)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="chat-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ChatServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A started :class:`ChatServer` with an empty script (add steps with ``chat_server.script``)."""
    with ChatServer() as server:
        yield server
