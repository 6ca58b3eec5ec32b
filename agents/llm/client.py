"""The model client: the official ``openai`` client pointed at any OpenAI-compatible endpoint.

It adds what the project needs on top of one chat-completions call: structured output with the
fallbacks of :mod:`agents.llm.structured`, validation retries with the error fed back, retries with
exponential backoff on timeouts, connection errors, 429 (honouring Retry-After) and 5xx, one-line
domain errors (:mod:`agents.llm.errors`) and token usage per call (``client.usage``).

The openai client's own retries are turned off (``max_retries=0``) so that every retry goes
through one loop with one policy, visible in the logs and configurable (short in tests).

One client talks to one endpoint and model, and remembers which structured-output mode that
endpoint accepts, so after a server rejected ``json_schema`` once, later calls don't ask again.
"""

from __future__ import annotations

import copy
import email.utils
import json
import logging
import time
from typing import Any, Callable, Sequence, TypeVar

import openai
from pydantic import BaseModel

import prompts
from agents.llm.config import FORMAT_MODES, NO_KEY_PLACEHOLDER, FormatMode, LLMConfig
from agents.llm.errors import (
    AuthenticationFailed,
    BadOutput,
    EndpointError,
    EndpointTimeout,
    EndpointUnreachable,
    LLMError,
    ModelNotFound,
    RateLimited,
    one_line,
    redact,
)
from agents.llm.structured import parse_json, prompt_schema, response_format, validation_message
from schemas.run import Usage

log = logging.getLogger("dailies.llm")

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
Message = dict[str, Any]


class _FormatRejected(Exception):
    """The endpoint answered 400/422 to a request that carried a response_format."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Retryable(Exception):
    def __init__(self, kind: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after


class LLMClient:
    """Chat completions against one model on one OpenAI-compatible endpoint.

    ``sleep`` is injectable so tests can record backoff delays instead of waiting them out.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        http_client: Any = None,
    ) -> None:
        self.config = config
        self.usage: list[Usage] = []
        """One entry per HTTP call that returned a completion, in order."""
        self._sleep = sleep
        key = config.api_key.reveal() if config.api_key else NO_KEY_PLACEHOLDER
        self._openai = openai.OpenAI(
            api_key=key,
            base_url=config.url,
            timeout=config.timeout,
            max_retries=0,
            http_client=http_client,
        )
        forced = config.response_format
        self._mode: FormatMode = "json_schema" if forced == "auto" else forced  # type: ignore[assignment]

    # -- identity ---------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.config.model

    @property
    def format_mode(self) -> FormatMode:
        """The structured-output mode the next call starts with (what the endpoint accepted last)."""
        return self._mode

    def describe(self) -> str:
        """``openai-compatible http://127.0.0.1:8000/v1 model=qwen2.5`` (never the key)."""
        return self.config.describe()

    def __repr__(self) -> str:
        return f"LLMClient({self.describe()})"

    __str__ = describe

    def close(self) -> None:
        self._openai.close()

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public calls -----------------------------------------------------------------------------
    def complete_text(self, messages: Sequence[Message], *, role: str, shot_id: str | None = None) -> str:
        """The assistant's text answer to ``messages``."""
        content, _ = self._create(list(messages), None, role=role, shot_id=shot_id)
        return content or ""

    def complete_structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        role: str,
        shot_id: str | None = None,
        postprocess: Callable[[T], R] | None = None,
    ) -> T | R:
        """An answer validated by ``schema`` (then by ``postprocess``, if given).

        ``postprocess`` receives the validated object and returns the final result; a ``ValueError``
        it raises (pydantic's ``ValidationError`` included) counts as invalid output, like a schema
        violation: the error is fed back to the model and the call retried, at most
        ``config.validation_retries`` times, then :class:`BadOutput`.
        """
        history: list[Message] = copy.deepcopy(list(messages))
        mode_index = FORMAT_MODES.index(self._mode)
        rejected: list[str] = []
        retries = 0
        while True:
            mode = FORMAT_MODES[mode_index]
            try:
                content, finish = self._create(
                    _with_schema_instructions(history, mode, schema),
                    response_format(mode, schema),
                    role=role,
                    shot_id=shot_id,
                )
            except _FormatRejected as rej:
                rejected.append(f"{mode}: HTTP {rej.status} {rej.reason}")
                can_fall_back = self.config.response_format == "auto" and mode_index + 1 < len(FORMAT_MODES)
                if not can_fall_back:
                    raise EndpointError(
                        f"{self._where()} rejected the request ({'; '.join(rejected)}); "
                        "check the model and server options, or force a mode with response_format"
                    ) from None
                mode_index += 1
                log.info(
                    "%s rejected response_format %s (HTTP %s); trying %s",
                    self._where(), mode, rej.status, FORMAT_MODES[mode_index],
                )
                continue
            if self._mode != mode:
                log.info("%s: using structured-output mode %s from now on", self._where(), mode)
                self._mode = mode
            try:
                obj = schema.model_validate(parse_json(content))
                return postprocess(obj) if postprocess is not None else obj
            except ValueError as err:
                problem = validation_message(err)
                if finish == "length":
                    problem = "the answer was cut off at the token limit; be more concise.\n" + problem
                retries += 1
                if retries > self.config.validation_retries:
                    raise BadOutput(
                        f"{self._where()} gave no valid {schema.__name__} after "
                        f"{retries} attempts (last problem: {one_line(problem, 300)}); "
                        "try a stronger model or a simpler request"
                    ) from None
                log.info(
                    "%s: answer %d rejected (%s); retrying with the error fed back",
                    self._where(), retries, one_line(problem, 200),
                )
                history.append({"role": "assistant", "content": (content or "")[:12000]})
                history.append(
                    {
                        "role": "user",
                        "content": prompts.render(
                            "llm_retry",
                            schema_name=schema.__name__,
                            error=problem,
                            schema_hint=_schema_hint(mode, schema, err),
                        ),
                    }
                )

    def list_models(self) -> list[str]:
        """The model ids the endpoint lists at ``GET /models`` (raises :class:`LLMError`)."""
        try:
            page = self._openai.models.list(timeout=min(self.config.timeout, 10.0))
            return sorted(m.id for m in page.data)
        except openai.APIConnectionError:
            raise EndpointUnreachable(f"cannot reach {self._where()}") from None
        except openai.APIStatusError as e:
            raise EndpointError(f"{self._where()} lists no models (HTTP {e.status_code})") from None

    # -- one HTTP call, with retries --------------------------------------------------------------
    def _create(
        self,
        messages: list[Message],
        fmt: dict[str, Any] | None,
        *,
        role: str,
        shot_id: str | None,
    ) -> tuple[str | None, str | None]:
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if fmt is not None:
            kwargs["response_format"] = fmt
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            kwargs["max_tokens"] = self.config.max_tokens
        attempt = 0
        while True:
            attempt += 1
            try:
                completion = self._call(kwargs, has_format=fmt is not None)
                break
            except _Retryable as r:
                if attempt > self.config.max_retries:
                    raise self._exhausted(r, attempt) from None
                delay = self._delay(attempt, r.retry_after)
                if delay is None:
                    raise RateLimited(
                        f"{self._where()} asks to wait {r.retry_after:.0f}s (HTTP 429 Retry-After), "
                        f"more than the {self.config.max_retry_after:.0f}s allowed; try again later "
                        "or use another endpoint"
                    ) from None
                log.warning(
                    "%s: %s (attempt %d of %d); retrying in %.2fs",
                    self._where(), r.reason, attempt, self.config.max_retries + 1, delay,
                )
                self._sleep(delay)
        choices = getattr(completion, "choices", None)
        if not choices:
            raise EndpointError(
                f"{self._where()} answered with something that is not a chat completion; "
                "check that the base URL points at an OpenAI-compatible /v1 API"
            )
        usage = getattr(completion, "usage", None)
        self.usage.append(
            Usage(
                role=role,
                model=self.config.model,
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                shot_id=shot_id,
            )
        )
        choice = choices[0]
        message = choice.message
        content = message.content
        refusal = getattr(message, "refusal", None)
        if not content and refusal:
            content = f"(refused: {refusal})"
        return content, getattr(choice, "finish_reason", None)

    def _call(self, kwargs: dict[str, Any], *, has_format: bool) -> Any:
        """One request; maps every openai exception to a retry signal or a domain error."""
        try:
            return self._openai.chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            raise _Retryable("timeout", f"no answer within {self.config.timeout:g}s") from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e.__context__
            why = self._reason(cause) if cause is not None and str(cause) else self._reason(e)
            raise _Retryable("connection", f"connection failed ({why})") from None
        except openai.RateLimitError as e:
            raise _Retryable("rate", "HTTP 429 rate limited", _retry_after(e.response)) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise AuthenticationFailed(
                f"{self._where()} rejected the credentials (HTTP {e.status_code}: {self._reason(e)}); "
                "set OPENAI_API_KEY (or DAILIES_LLM_API_KEY / DAILIES_VLM_API_KEY) to a valid key"
            ) from None
        except openai.NotFoundError as e:
            raise self._not_found(e) from None
        except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
            if has_format:
                raise _FormatRejected(e.status_code, self._reason(e)) from None
            raise EndpointError(
                f"{self._where()} rejected the request (HTTP {e.status_code}: {self._reason(e)}); "
                "check that the model supports this input (images need a vision model)"
            ) from None
        except openai.APIStatusError as e:
            if e.status_code >= 500 or e.status_code in (408, 409):
                raise _Retryable(
                    "server", f"HTTP {e.status_code} {self._reason(e)}", _retry_after(e.response)
                ) from None
            raise EndpointError(
                f"{self._where()} answered HTTP {e.status_code} ({self._reason(e)})"
            ) from None
        except (openai.APIError, ValueError) as e:  # e.g. an HTTP body that is not JSON
            raise EndpointError(
                f"{self._where()} gave an answer that is not a chat completion ({self._reason(e)}); "
                "check that the base URL points at an OpenAI-compatible /v1 API"
            ) from None

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            if retry_after > self.config.max_retry_after:
                return None
            return max(0.0, retry_after)
        return min(self.config.max_backoff, self.config.backoff * (2 ** (attempt - 1)))

    def _exhausted(self, r: _Retryable, attempts: int) -> LLMError:
        where = self._where()
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if r.kind == "timeout":
            return EndpointTimeout(
                f"{where} did not answer within {self.config.timeout:g}s ({tries}); "
                "check the server's load or raise the timeout (DAILIES_LLM_TIMEOUT / DAILIES_VLM_TIMEOUT)"
            )
        if r.kind == "connection":
            return EndpointUnreachable(
                f"cannot reach {where}: {r.reason} after {tries}; start the server or "
                "set OPENAI_BASE_URL / --base-url to where it listens"
            )
        if r.kind == "rate":
            return RateLimited(f"{where} is rate limiting (HTTP 429 on {tries}); try again later")
        return EndpointError(f"{where} failed: {r.reason} on {tries}; check the server's logs")

    def _not_found(self, e: openai.APIStatusError) -> LLMError:
        try:
            served = self.list_models()
        except LLMError:
            served = None
        if served is not None and self.config.model not in served:
            listed = ", ".join(served[:12]) + (" ..." if len(served) > 12 else "")
            return ModelNotFound(
                f"model {self.config.model!r} is not served at {self.config.host} "
                f"(it serves: {listed or 'nothing'}); pass one of them with --llm-model/--vlm-model"
            )
        return ModelNotFound(
            f"HTTP 404 from {self.config.host} for model {self.config.model!r} ({self._reason(e)}); "
            "check the model name and that the base URL ends in /v1"
        )

    def _where(self) -> str:
        return f"endpoint {self.config.host} (model {self.config.model})"

    def _reason(self, e: BaseException) -> str:
        """The server's reason for ``e``, one line, with any key-like text removed."""
        body = getattr(e, "body", None)
        text = None
        if isinstance(body, dict):
            err = body.get("error", body)
            text = err.get("message") if isinstance(err, dict) else err
            text = text or body.get("detail") or body.get("message")
        if not text:
            text = getattr(e, "message", None) or str(e) or type(e).__name__
        key = self.config.api_key.reveal() if self.config.api_key else None
        return one_line(redact(str(text), key), 200)


def _retry_after(response: Any) -> float | None:
    """Seconds from ``Retry-After`` / ``retry-after-ms`` headers, if present and parseable."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _with_schema_instructions(messages: list[Message], mode: str, schema: type[BaseModel]) -> list[Message]:
    """``messages`` with the JSON schema spelled out in the system message (json_object / text modes)."""
    if mode == "json_schema":
        return messages
    note = prompts.render(
        "llm_schema",
        schema_name=schema.__name__,
        schema=json.dumps(prompt_schema(schema), ensure_ascii=False, separators=(",", ":")),
    )
    out = list(messages)
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0] = {**out[0], "content": out[0]["content"].rstrip() + "\n\n" + note}
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def _schema_hint(mode: str, schema: type[BaseModel], err: BaseException) -> str:
    """In json_schema mode the prompt lacks the schema; repeat it when the answer wasn't even JSON
    (the server may have ignored response_format)."""
    if mode == "json_schema" and not hasattr(err, "errors"):
        return "The JSON schema to follow: " + json.dumps(
            prompt_schema(schema), ensure_ascii=False, separators=(",", ":")
        )
    return ""
