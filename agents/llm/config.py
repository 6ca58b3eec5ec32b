"""Endpoint settings for an OpenAI-compatible chat-completions server, with the key kept secret."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, replace
from typing import Literal, Mapping
from urllib.parse import urlsplit, urlunsplit

from agents.llm.errors import ConfigError, EndpointUnreachable

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY_PLACEHOLDER = "no-key-needed"
"""Sent when no key is configured (local servers need none; the openai client insists on one)."""

FormatMode = Literal["json_schema", "json_object", "text"]
FORMAT_MODES: tuple[FormatMode, ...] = ("json_schema", "json_object", "text")

ROLE_ENV_PREFIX = {"llm": "DAILIES_LLM", "vlm": "DAILIES_VLM"}
"""Per role, the prefix of its environment variables (``DAILIES_LLM_MODEL``, ``DAILIES_VLM_BASE_URL``...)."""


class Secret:
    """A string that never shows itself in ``repr``/``str``/f-strings; :meth:`reveal` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (for messages and manifests)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class LLMConfig:
    """How to reach one model on one OpenAI-compatible endpoint.

    ``repr``/``str`` never show the key (it is a :class:`Secret`).
    """

    model: str
    """Model name as the endpoint knows it (``gpt-4o-mini``, ``Qwen/Qwen2.5-VL-7B-Instruct``, ``llama3.2``)."""
    base_url: str | None = None
    """``http(s)://host[:port]/v1``; None means the official OpenAI API."""
    api_key: Secret | None = field(default=None, repr=False)
    """The key, if any (local servers usually need none)."""
    timeout: float = 120.0
    """Inactivity timeout in seconds: how long the client waits for the next byte of an answer (the
    first token included), never a limit on the whole answer. Answers are streamed, so a slow model
    that keeps producing tokens is never cut off; a server that stalls is."""
    max_retries: int = 3
    """Retries after a timeout, a connection error, HTTP 429 or 5xx (so up to 1 + this attempts)."""
    backoff: float = 1.0
    """First retry delay in seconds; doubled on each further retry (capped by ``max_backoff``)."""
    max_backoff: float = 30.0
    """Largest delay between two retries (a server's Retry-After is honoured up to ``max_retry_after``)."""
    max_retry_after: float = 120.0
    """Largest Retry-After the client will wait for."""
    validation_retries: int = 3
    """Retries with the validation error fed back when an answer doesn't fit the schema."""
    response_format: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    """``auto``: try json_schema, then json_object, then plain text; or force one mode."""
    temperature: float | None = None
    """Sampling temperature; None sends none (some models reject any value)."""
    max_tokens: int | None = None
    """Completion token limit; None sends none (but a known context window still caps it)."""
    context_window: int | None = None
    """The model's context size in tokens; None: read from the server (llama.cpp ``/props``, vLLM's
    ``max_model_len`` in ``/v1/models``) when the first request is fitted, unknown when it says nothing."""
    stream: bool = True
    """Stream answers (progress in tokens and tokens/s, inactivity timeout); False for servers that can't."""

    def __post_init__(self) -> None:
        if not self.model or not self.model.strip():
            raise ConfigError("no model name given: pass --llm-model/--vlm-model or set DAILIES_LLM_MODEL")
        if isinstance(self.api_key, str):  # tolerate a plain string, but keep it wrapped
            object.__setattr__(self, "api_key", Secret(self.api_key) if self.api_key else None)
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            try:
                parts.port
            except ValueError:
                raise ConfigError(
                    f"base URL {self.base_url.split('@')[-1]!r} has a port outside 0-65535: use e.g. "
                    "http://127.0.0.1:8000/v1"
                ) from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"base URL {safe_url(self.base_url)!r} is not an http(s) URL: "
                    "use e.g. http://127.0.0.1:8000/v1"
                )
        if not self.timeout > 0:
            raise ConfigError(f"timeout must be positive seconds, got {self.timeout}")
        for name in ("max_retries", "validation_retries"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ConfigError("backoff delays must be >= 0")
        if self.context_window is not None and self.context_window < 256:
            raise ConfigError(f"context_window must be at least 256 tokens, got {self.context_window}")

    @property
    def url(self) -> str:
        """The base URL in use (the OpenAI API when none is configured)."""
        return (self.base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/")

    @property
    def host(self) -> str:
        """``host[:port]`` of the endpoint (for one-line messages)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    def describe(self) -> str:
        """``openai-compatible http://127.0.0.1:8000/v1 model=qwen2.5`` (never the key)."""
        return f"openai-compatible {safe_url(self.url)} model={self.model}"

    def __str__(self) -> str:
        return self.describe()

    def with_(self, **changes: object) -> "LLMConfig":
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @staticmethod
    def base_url_from_env(
        base_url: str | None = None,
        *,
        role: Literal["llm", "vlm"] = "llm",
        env: Mapping[str, str] | None = None,
    ) -> tuple[str | None, str | None]:
        """(base URL, where it came from) by the precedence of :meth:`from_env`: the argument
        (``--base-url``), ``DAILIES_<ROLE>_BASE_URL``, ``OPENAI_BASE_URL``; (None, None) when none is set."""
        env = os.environ if env is None else env
        prefix = ROLE_ENV_PREFIX[role]
        for value, source in ((base_url, "--base-url"), (env.get(f"{prefix}_BASE_URL"), f"{prefix}_BASE_URL"),
                              (env.get("OPENAI_BASE_URL"), "OPENAI_BASE_URL")):
            if value and value.strip():
                return value.strip(), source
        return None, None

    @classmethod
    def from_env(
        cls,
        model: str | None = None,
        base_url: str | None = None,
        *,
        role: Literal["llm", "vlm"] = "llm",
        api_key: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: object,
    ) -> "LLMConfig | None":
        """The config for ``role`` from flags (the arguments) and environment, or None when no model is
        named anywhere, which means: use the embedded default (offline planner, heuristic critic).

        Precedence: argument, then ``DAILIES_<ROLE>_*``, then ``OPENAI_*``.

        - model: ``model`` > ``DAILIES_LLM_MODEL`` / ``DAILIES_VLM_MODEL``;
        - base URL: ``base_url`` > ``DAILIES_<ROLE>_BASE_URL`` > ``OPENAI_BASE_URL`` > the OpenAI API;
        - key: ``api_key`` > ``DAILIES_<ROLE>_API_KEY`` > ``OPENAI_API_KEY`` > none (a placeholder is sent);
        - timeout: ``timeout`` > ``DAILIES_<ROLE>_TIMEOUT`` > 120 s.

        A key alone never turns a model role on: a model must be named, so a stray ``OPENAI_API_KEY``
        never causes paid calls by itself.
        """
        env = os.environ if env is None else env
        prefix = ROLE_ENV_PREFIX[role]
        model = (model or env.get(f"{prefix}_MODEL") or "").strip()
        if not model:
            return None
        base_url = base_url or env.get(f"{prefix}_BASE_URL") or env.get("OPENAI_BASE_URL") or None
        key = api_key or env.get(f"{prefix}_API_KEY") or env.get("OPENAI_API_KEY") or None
        if timeout is None and env.get(f"{prefix}_TIMEOUT"):
            try:
                timeout = float(env[f"{prefix}_TIMEOUT"])
            except ValueError:
                raise ConfigError(
                    f"{prefix}_TIMEOUT={env[f'{prefix}_TIMEOUT']!r} is not a number of seconds"
                ) from None
        kwargs: dict[str, object] = dict(overrides)
        if timeout is not None:
            kwargs["timeout"] = timeout
        return cls(
            model=model,
            base_url=base_url.strip() if base_url else None,
            api_key=Secret(key) if key else None,
            **kwargs,  # type: ignore[arg-type]
        )


def check_reachable(config: LLMConfig, timeout: float = 3.0) -> None:
    """Raise :class:`EndpointUnreachable` unless something accepts a TCP connection at the endpoint's host
    and port (the check a run makes before its first model call; it sends nothing, so no key leaves)."""
    parts = urlsplit(config.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EndpointUnreachable(
            f"cannot reach {safe_url(config.url)} (model {config.model}): {reason}; start the server or set "
            "OPENAI_BASE_URL / --base-url to where it listens"
        ) from None
