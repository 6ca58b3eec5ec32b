"""Fitting a request into the model's context window.

A chat request takes ``prompt tokens + max_tokens`` of the window; a server refuses one that does
not fit (llama.cpp: HTTP 400 "request (2843 tokens) exceeds the available context size (2048
tokens)"; vLLM: "This model's maximum context length is 2048 tokens"). The client estimates the
prompt, caps ``max_tokens`` to what is left, and refuses itself (one line, before any HTTP call)
when too little is left for an answer. When the server refuses anyway, :func:`overflow_in` reads
the window size from its message, so the next request is fitted.

The estimate is deliberately high (3 characters per token, where BPE tokenizers average about 4
on English prose and JSON): a request cut a little short is better than one refused.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

CHARS_PER_TOKEN = 3.0
"""Characters per token assumed for the estimate (over-counts English, so requests fit)."""
TOKENS_PER_MESSAGE = 8
"""Chat-template tokens around each message (role markers, separators)."""
TOKENS_PER_IMAGE = 1000
"""An image part (vision models): a few hundred to a thousand tokens, depending on the model."""
SAFETY_TOKENS = 48
"""Kept free between the estimated prompt and the answer."""
MIN_ANSWER_TOKENS = 96
"""Fewer tokens than this left for the answer: the request is refused as too big."""


def estimate_text_tokens(text: str) -> int:
    """Tokens of ``text`` (an over-estimate, see the module docstring)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def estimate_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """Prompt tokens of a chat request's ``messages`` (text and image parts)."""
    total = 0
    for m in messages:
        total += TOKENS_PER_MESSAGE
        content = m.get("content")
        if isinstance(content, str):
            total += estimate_text_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    total += estimate_text_tokens(part.get("text", ""))
                elif part.get("type") == "image_url":
                    total += TOKENS_PER_IMAGE
                else:
                    total += estimate_text_tokens(json.dumps(part))
    return total


def answer_room(n_ctx: int, prompt_tokens: int) -> int:
    """Tokens left for the answer in a window of ``n_ctx`` after ``prompt_tokens`` (may be <= 0)."""
    return n_ctx - prompt_tokens - SAFETY_TOKENS


_LLAMA = re.compile(r"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)", re.I)
_VLLM = re.compile(r"maximum context length is (\d+) tokens", re.I)
_VLLM_NEED = re.compile(r"(?:you requested|resulted in) (\d+) tokens", re.I)
_GENERIC = re.compile(r"context (?:length|size|window)|too many tokens|exceeds? the (?:available )?context", re.I)


def overflow_in(reason: str, body: Any = None) -> tuple[int | None, int | None] | None:
    """(window, tokens needed) when a server's error says the request did not fit, else None.

    Either number may be None when the message does not give it."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and (err.get("type") == "exceed_context_size_error" or "n_ctx" in err):
            n_ctx = err.get("n_ctx")
            need = err.get("n_prompt_tokens")
            return (int(n_ctx) if isinstance(n_ctx, int) else None, int(need) if isinstance(need, int) else None)
    m = _LLAMA.search(reason or "")
    if m:
        return int(m.group(2)), int(m.group(1))
    m = _VLLM.search(reason or "")
    if m:
        need = _VLLM_NEED.search(reason)
        return int(m.group(1)), int(need.group(1)) if need else None
    if _GENERIC.search(reason or ""):
        return None, None
    return None
