"""What the client asks an endpoint about itself: the models it serves and its context size.

- :func:`llm_config`: the planner/reviser's endpoint settings from flags and environment. A model
  named anywhere is used as is; a base URL with no model name asks ``GET /v1/models``: one model is
  used (with a notice saying so), several are a one-line :class:`ConfigError` listing them. A key
  alone (``OPENAI_API_KEY`` without a base URL or a model) turns nothing on: no paid call is ever
  made because a key happens to be set.
- :func:`read_context_window`: the model's context size in tokens, where the server says it:
  llama.cpp's ``GET /props`` (``default_generation_settings.n_ctx``, the per-slot window), vLLM's
  ``max_model_len`` and llama.cpp's ``meta.n_ctx`` in ``GET /v1/models``, or a ``context_length``
  there (OpenRouter and others). None when the server says nothing (OpenAI).

Sources: llama.cpp ``tools/server`` (``/props``, ``/v1/models``), vLLM's OpenAI-compatible server
(``ModelCard.max_model_len``).
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from agents.llm.config import LLMConfig, Secret, safe_url
from agents.llm.errors import ConfigError, EndpointError, EndpointUnreachable, one_line, redact

log = logging.getLogger("dailies.llm")

DISCOVERY_TIMEOUT = 10.0
"""Seconds to wait for ``/v1/models`` or ``/props`` (they answer at once on every server)."""


def _headers(api_key: Secret | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key.reveal()}"} if api_key else {}


def _server_root(base_url: str) -> str:
    """``http://host:8080/v1`` -> ``http://host:8080`` (where llama.cpp serves ``/props``)."""
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path[:-3] if parts.path.endswith("/v1") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def list_model_entries(base_url: str, api_key: Secret | None = None, *, timeout: float = DISCOVERY_TIMEOUT) -> list[dict]:
    """The entries of ``GET {base_url}/models`` (each has at least ``id``).

    Raises :class:`EndpointUnreachable` when nothing answers, :class:`EndpointError` for an HTTP
    error or an answer that is not a model list."""
    host = safe_url(base_url)
    try:
        r = httpx.get(base_url.rstrip("/") + "/models", headers=_headers(api_key), timeout=timeout)
    except httpx.TimeoutException:
        raise EndpointUnreachable(f"{host} did not answer GET /models within {timeout:g}s") from None
    except httpx.HTTPError as e:
        reason = redact(str(e) or type(e).__name__, api_key.reveal() if api_key else None)
        raise EndpointUnreachable(f"nothing answers at {host} ({one_line(reason, 120)})") from None
    if r.status_code in (401, 403):
        raise EndpointError(f"{host} rejected the credentials for GET /models (HTTP {r.status_code}); "
                            "set OPENAI_API_KEY (or DAILIES_LLM_API_KEY) to a valid key")
    if r.status_code != 200:
        raise EndpointError(f"{host} answered HTTP {r.status_code} to GET /models; check that the base URL ends in /v1")
    try:
        data = r.json().get("data")
    except (ValueError, AttributeError):
        data = None
    if not isinstance(data, list):
        raise EndpointError(f"{host} answered GET /models with something that is not a model list; "
                            "check that the base URL points at an OpenAI-compatible /v1 API")
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)]


def discover_model(base_url: str, api_key: Secret | None = None, *, source: str = "--base-url",
                   timeout: float = DISCOVERY_TIMEOUT) -> tuple[str, str]:
    """(model id, notice) for the one model served at ``base_url``.

    ``source`` names where the URL came from (``OPENAI_BASE_URL``), for the messages. Raises
    :class:`ConfigError` when the server lists no model or several (the message lists them and says
    how to choose), :class:`EndpointUnreachable`/:class:`EndpointError` when asking fails."""
    host = safe_url(base_url)
    try:
        entries = list_model_entries(base_url, api_key, timeout=timeout)
    except EndpointUnreachable as e:
        raise EndpointUnreachable(f"{source} is set to {host} but {e}: start the server, pass --llm-model with "
                                  f"--base-url for another one, or unset {source} to plan offline") from None
    ids = sorted({e["id"] for e in entries})
    if not ids:
        raise ConfigError(f"{host} ({source}) serves no model: load one in the server, or pass --llm-model NAME")
    if len(ids) > 1:
        shown = ", ".join(ids[:12]) + (f" (and {len(ids) - 12} more)" if len(ids) > 12 else "")
        raise ConfigError(f"{host} ({source}) serves {len(ids)} models ({shown}): choose one with --llm-model NAME "
                          "or DAILIES_LLM_MODEL")
    model = ids[0]
    return model, f"planner model: {model}, the only model served at {host} ({source}); pass --llm-model to choose another"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return None


def read_context_window(base_url: str, model: str, api_key: Secret | None = None, *,
                        timeout: float = DISCOVERY_TIMEOUT) -> int | None:
    """The context size in tokens of ``model`` at ``base_url``, or None when the server doesn't say.

    Never raises: a server that can't tell is simply one whose window is unknown."""
    headers = _headers(api_key)
    try:  # llama.cpp: the per-slot window (n_ctx / parallel slots) is what one request may use
        r = httpx.get(_server_root(base_url) + "/props", headers=headers, timeout=timeout)
        if r.status_code == 200:
            props = r.json()
            n = _int((props.get("default_generation_settings") or {}).get("n_ctx")) or _int(props.get("n_ctx"))
            if n:
                return n
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    try:
        entries = list_model_entries(base_url, api_key, timeout=timeout)
    except (EndpointError, EndpointUnreachable):
        return None
    entry = next((e for e in entries if e["id"] == model), entries[0] if len(entries) == 1 else None)
    if entry is None:
        return None
    for value in (entry.get("max_model_len"), entry.get("context_length"), entry.get("max_context_length"),
                  (entry.get("meta") or {}).get("n_ctx") if isinstance(entry.get("meta"), dict) else None):
        n = _int(value)
        if n:
            return n
    return None


def llm_config(
    model: str | None = None,
    base_url: str | None = None,
    *,
    role: Literal["llm", "vlm"] = "llm",
    env: Mapping[str, str] | None = None,
    discover: bool = True,
    **overrides: object,
) -> tuple[LLMConfig | None, list[str]]:
    """(config, notices) for ``role``; config None means: use the embedded default.

    A model named (argument or ``DAILIES_<ROLE>_MODEL``) is used as is. Otherwise, for the ``llm``
    role with ``discover``, a base URL (``--base-url``, ``DAILIES_LLM_BASE_URL``, ``OPENAI_BASE_URL``)
    is asked for its models (see the module docstring). The ``vlm`` role is never discovered: a
    text-only model behind ``OPENAI_BASE_URL`` must not become the vision critic by accident.
    """
    cfg = LLMConfig.from_env(model=model, base_url=base_url, role=role, env=env, **overrides)
    if cfg is not None or not discover or role != "llm":
        return cfg, []
    url, source = LLMConfig.base_url_from_env(base_url, role=role, env=env)
    if url is None:
        return None, []
    probe = LLMConfig.from_env(model="?", base_url=url, role=role, env=env)  # key and URL checks
    assert probe is not None
    found, notice = discover_model(probe.url, probe.api_key, source=source or "--base-url")
    return LLMConfig.from_env(model=found, base_url=url, role=role, env=env, **overrides), [notice]
