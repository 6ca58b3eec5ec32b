"""Domain errors of the model client: one line each, naming the endpoint and model and the fix.

No message ever contains the API key: messages are built from the endpoint host, the model name
and the server's (redacted) reason, and the openai exception is not chained (``from None``), so a
server that echoes part of the key cannot leak it through a traceback.
"""

from __future__ import annotations

import re


def one_line(text: str, limit: int = 600) -> str:
    """``text`` collapsed to one line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class LLMError(RuntimeError):
    """A model call failed; the message is one line, names endpoint and model, and says the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class ConfigError(LLMError):
    """The endpoint settings are unusable (bad URL, bad timeout...)."""


class EndpointUnreachable(LLMError):
    """Nothing answered at the base URL (connection refused, DNS, TLS)."""


class EndpointTimeout(EndpointUnreachable):
    """The endpoint accepted the connection but did not answer in time, on every attempt."""


class AuthenticationFailed(LLMError):
    """The endpoint rejected the credentials (HTTP 401/403)."""


class ModelNotFound(LLMError):
    """The endpoint does not serve the model (HTTP 404)."""


class RateLimited(LLMError):
    """HTTP 429 on every attempt."""


class EndpointError(LLMError):
    """The endpoint answered with an error that retrying did not fix (5xx, or a rejected request)."""


class BadOutput(LLMError):
    """The model's answers never validated against the expected schema."""


class ContextOverflow(EndpointError):
    """The request does not fit the model's context window (the server said so, or the client knows
    the window and the prompt leaves too little room for the answer).

    ``n_ctx`` is the window in tokens when known, ``needed`` the tokens the request would take."""

    def __init__(self, message: str, *, n_ctx: int | None = None, needed: int | None = None) -> None:
        super().__init__(message)
        self.n_ctx = n_ctx
        self.needed = needed


_KEYLIKE = re.compile(r"\b(sk|pk|rk|key|tok)[-_][A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret and anything that looks like an API key replaced by ``***``."""
    out = str(text)
    for s in secrets:
        if s and len(s) >= 4:
            out = out.replace(s, "***")
    out = _BEARER.sub(r"\1***", out)
    return _KEYLIKE.sub(lambda m: m.group(1) + "-***", out)
