"""The model client: the official ``openai`` client pointed at any OpenAI-compatible endpoint.

It adds what the project needs on top of one chat-completions call:

- **streaming with an inactivity timeout**: answers are streamed, and ``config.timeout`` is the
  longest wait for the next byte (the first token included), never a limit on the whole answer, so
  a 135M model on two CPU cores writing for three minutes is fine and a stalled server is not.
  ``on_progress`` receives a :class:`Progress` (tokens so far, tokens/s) while the answer arrives;
- **fitting the context window** (:mod:`agents.llm.budget`): the window is read from the server
  once (:func:`agents.llm.endpoint.read_context_window`) or learnt from its refusal, ``max_tokens``
  is capped to what is left, and a request that cannot fit is refused with one line
  (:class:`ContextOverflow`) instead of an HTTP 400 after minutes;
- **structured output** with the fallbacks of :mod:`agents.llm.structured`; the first
  ``json_schema`` attempt carries the length and count limits, and every answer in that mode is
  checked against the schema sent: a server that returns a breaking answer did not constrain
  decoding, which is noted once (``client.notices``) and from then on the schema also goes into the
  prompt;
- **repair before re-asking** (:mod:`agents.llm.repair`): too many items, over-long strings,
  unknown keys and missing optional fields are fixed without the model, with a notice; only what
  cannot be fixed is fed back as the validation error, keeping just the last failed exchange so a
  retry never outgrows a small context;
- retries with exponential backoff on timeouts, connection errors, 429 (honouring Retry-After) and
  5xx, one-line domain errors (:mod:`agents.llm.errors`) and token usage per call (``client.usage``).

The openai client's own retries are turned off (``max_retries=0``) so that every retry goes
through one loop with one policy, visible in the logs and configurable (short in tests).

One client talks to one endpoint and model, and remembers what that endpoint accepts (structured
output mode, limits in the schema, its context window), so later calls don't ask again.
"""

from __future__ import annotations

import copy
import email.utils
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import httpx
import openai
from pydantic import BaseModel

import prompts
from agents.llm import budget
from agents.llm.config import FORMAT_MODES, NO_KEY_PLACEHOLDER, FormatMode, LLMConfig
from agents.llm.errors import (
    AuthenticationFailed,
    BadOutput,
    ContextOverflow,
    EndpointError,
    EndpointTimeout,
    EndpointUnreachable,
    LLMError,
    ModelNotFound,
    RateLimited,
    one_line,
    redact,
)
from agents.llm.repair import repair
from agents.llm.structured import (
    parse_json,
    prompt_schema,
    response_format,
    schema_violation,
    validation_message,
)
from schemas.run import Usage

log = logging.getLogger("dailies.llm")

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
Message = dict[str, Any]

PROGRESS_EVERY = 0.5
"""Seconds between two progress reports while an answer streams in."""


@dataclass(frozen=True)
class Progress:
    """How far a streamed answer has got (what ``LLMClient.on_progress`` receives)."""

    label: str
    """What is being written (``planner: scene 2 of 3``)."""
    tokens: int
    """Answer tokens so far (streamed chunks; the server's count once it is done)."""
    seconds: float
    """Since the request was sent."""
    tokens_per_second: float
    """Generation speed since the first token (0 before it)."""
    done: bool
    """True for the last report of this answer."""

    def line(self) -> str:
        """``planner: scene 2 of 3: 143 tokens, 3.2 tokens/s, 51 s``."""
        speed = f", {self.tokens_per_second:.1f} tokens/s" if self.tokens_per_second else ""
        what = "waiting for the first token" if not self.tokens and not self.done else f"{self.tokens} tokens{speed}"
        return f"{self.label}: {what}, {self.seconds:.0f} s"


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


_UNKNOWN = object()


class LLMClient:
    """Chat completions against one model on one OpenAI-compatible endpoint.

    ``sleep`` is injectable so tests can record backoff delays instead of waiting them out;
    ``on_progress`` (settable later) receives a :class:`Progress` while an answer streams in.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        http_client: Any = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.config = config
        self.usage: list[Usage] = []
        """One entry per HTTP call that returned a completion, in order."""
        self.notices: list[str] = []
        """What the user should know about this endpoint (no constraining, repairs...), one line each."""
        self.on_progress = on_progress
        self._sleep = sleep
        key = config.api_key.reveal() if config.api_key else NO_KEY_PLACEHOLDER
        self._openai = openai.OpenAI(
            api_key=key,
            base_url=config.url,
            timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 10.0)),
            max_retries=0,
            http_client=http_client,
        )
        forced = config.response_format
        self._mode: FormatMode = "json_schema" if forced == "auto" else forced  # type: ignore[assignment]
        self._limits = True
        """Send maxItems/maxLength/... in json_schema mode (until the server rejects them)."""
        self._constrains: bool | None = None
        self._n_ctx: Any = config.context_window or _UNKNOWN

    # -- identity ---------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.config.model

    @property
    def format_mode(self) -> FormatMode:
        """The structured-output mode the next call starts with (what the endpoint accepted last)."""
        return self._mode

    @property
    def constrains(self) -> bool | None:
        """Whether the endpoint's ``json_schema`` mode really constrained its answers: True once an
        answer fitted the schema sent, False once one broke it, None before any answer."""
        return self._constrains

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

    def notice(self, message: str) -> None:
        """Record a one-line notice for the user (once)."""
        message = one_line(message, 400)
        if message not in self.notices:
            self.notices.append(message)
            log.info("%s", message)

    # -- the context window -----------------------------------------------------------------------
    def context_window(self) -> int | None:
        """The model's context size in tokens (config, else asked once from the server); None: unknown."""
        if self._n_ctx is _UNKNOWN:
            if self.config.base_url is None:  # the OpenAI API says nothing about it
                self._n_ctx = None
            else:
                from agents.llm.endpoint import read_context_window

                self._n_ctx = read_context_window(self.config.url, self.config.model, self.config.api_key,
                                                  timeout=min(self.config.timeout, 10.0))
                if self._n_ctx:
                    log.info("%s: context window %d tokens", self._where(), self._n_ctx)
        return self._n_ctx

    def prompt_budget(self, answer_tokens: int) -> int | None:
        """Prompt tokens a request may take and still leave ``answer_tokens`` for the answer (by the
        estimate of :mod:`agents.llm.budget`); None when the window is unknown."""
        n = self.context_window()
        return None if n is None else n - answer_tokens - budget.SAFETY_TOKENS

    def _fit(self, messages: Sequence[Message], max_tokens: int | None) -> int | None:
        """``max_tokens`` to send: the wanted limit capped by what the window leaves (or
        :class:`ContextOverflow` when too little is left)."""
        wanted = [t for t in (max_tokens, self.config.max_tokens) if t]
        limit = min(wanted) if wanted else None
        n_ctx = self.context_window()
        if n_ctx is None:
            return limit
        need = budget.estimate_tokens(messages)
        room = budget.answer_room(n_ctx, need)
        if room < min(limit or budget.MIN_ANSWER_TOKENS, budget.MIN_ANSWER_TOKENS):
            raise self._overflow(n_ctx, need)
        return room if limit is None else min(limit, room)

    def _overflow(self, n_ctx: int | None, need: int | None) -> ContextOverflow:
        size = f"its {n_ctx}-token context" if n_ctx else "its context"
        takes = f"about {need} tokens" if need else "more than fits"
        return ContextOverflow(
            f"{self._where()}: the request takes {takes} of {size}, leaving too little for the answer; "
            "give the server a larger context (llama.cpp: -c 8192; vLLM: --max-model-len) or use a bigger model",
            n_ctx=n_ctx, needed=need,
        )

    # -- public calls -----------------------------------------------------------------------------
    def complete_text(self, messages: Sequence[Message], *, role: str, shot_id: str | None = None,
                      label: str | None = None, max_tokens: int | None = None) -> str:
        """The assistant's text answer to ``messages``."""
        content, _ = self._create(list(messages), None, role=role, shot_id=shot_id, label=label,
                                  max_tokens=max_tokens)
        return content or ""

    def complete_structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        role: str,
        shot_id: str | None = None,
        postprocess: Callable[[T], R] | None = None,
        label: str | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> T | R:
        """An answer validated by ``schema`` (then by ``postprocess``, if given).

        The answer is first repaired where that needs no model (:mod:`agents.llm.repair`; each fix
        becomes a notice). ``postprocess`` receives the validated object and returns the final
        result; a ``ValueError`` it raises (pydantic's ``ValidationError`` included) counts as
        invalid output, like a schema violation: the error is fed back to the model and the call
        retried, at most ``config.validation_retries`` times, then :class:`BadOutput`.

        ``json_schema``: a tighter JSON schema to constrain decoding with and to repair by (e.g.
        with an enum of the valid ids); ``schema`` still validates. ``label`` names the call in
        progress reports; ``max_tokens`` caps this answer (the context window caps it too).
        Raises :class:`ContextOverflow` when the request cannot fit the model's window.
        """
        base: list[Message] = copy.deepcopy(list(messages))
        history = base
        repair_schema = json_schema if json_schema is not None else prompt_schema(schema)
        mode_index = FORMAT_MODES.index(self._mode)
        rejected: list[str] = []
        retries = 0
        retry_prompt: Message | None = None
        while True:
            mode = FORMAT_MODES[mode_index]
            fmt = response_format(mode, schema, constraints=self._limits, schema=json_schema)
            in_prompt = mode != "json_schema" or self._constrains is False
            try:
                content, finish = self._create(
                    _with_schema_instructions(history, schema, in_prompt, json_schema),
                    fmt, role=role, shot_id=shot_id, label=label, max_tokens=max_tokens,
                )
            except _FormatRejected as rej:
                rejected.append(f"{mode}: HTTP {rej.status} {rej.reason}")
                if mode == "json_schema" and self._limits:
                    self._limits = False
                    log.info("%s rejected the limits in the JSON schema (HTTP %s); sending the plain strict schema",
                             self._where(), rej.status)
                    continue
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
            except ContextOverflow:
                if retry_prompt is not None and len(history) > len(base) + 1:
                    # the failed answer made the retry too big: keep only the error
                    history = base + [retry_prompt]
                    continue
                raise
            if self._mode != mode:
                log.info("%s: using structured-output mode %s from now on", self._where(), mode)
                self._mode = mode
            problem: str
            try:
                data = parse_json(content)
            except ValueError as err:
                problem = str(err)
                if mode == "json_schema" and finish != "length":
                    self._not_constraining("the answer is not JSON")
            else:
                if mode == "json_schema" and finish != "length" and fmt is not None:
                    self._check_constrained(data, fmt["json_schema"]["schema"])
                fixed, notes = repair(data, repair_schema)
                try:
                    obj = schema.model_validate(fixed)
                    result = postprocess(obj) if postprocess is not None else obj
                except ValueError as err:
                    problem = validation_message(err)
                else:
                    if notes:
                        shown = "; ".join(notes[:4]) + (f"; and {len(notes) - 4} more" if len(notes) > 4 else "")
                        self.notice(f"{self._where()}: repaired the {schema.__name__} answer without asking "
                                    f"the model again ({shown})")
                    return result
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
            retry_prompt = {
                "role": "user",
                "content": prompts.render(
                    "llm_retry",
                    schema_name=schema.__name__,
                    error=problem,
                    schema_hint=_schema_hint(mode, schema, problem, json_schema),
                ),
            }
            # only the last failed exchange is kept: a retry never grows beyond one answer
            history = base + [{"role": "assistant", "content": (content or "")[:6000]}, retry_prompt]

    def _check_constrained(self, data: Any, sent: dict[str, Any]) -> None:
        violation = schema_violation(data, sent)
        if violation is not None:
            self._not_constraining(violation)
        elif self._constrains is None:
            self._constrains = True
            log.info("%s: json_schema constrains the answers", self._where())

    def _not_constraining(self, why: str) -> None:
        if self._constrains is not False:
            self._constrains = False
            self.notice(
                f"{self._where()} accepted response_format json_schema but did not constrain the answer "
                f"({one_line(why, 160)}); answers are repaired and validated, and the schema now also goes "
                "into the prompt"
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
        label: str | None = None,
        max_tokens: int | None = None,
    ) -> tuple[str | None, str | None]:
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if fmt is not None:
            kwargs["response_format"] = fmt
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        limit = self._fit(messages, max_tokens)
        if limit is not None:
            kwargs["max_tokens"] = limit
        attempt = 0
        refitted = False
        label = label or role
        while True:
            attempt += 1
            try:
                content, finish, usage = self._call(kwargs, has_format=fmt is not None, label=label)
                break
            except ContextOverflow as over:
                # the server knows its window better than our guess: learn it, fit again once
                known = self._n_ctx if isinstance(self._n_ctx, int) else None
                if over.n_ctx and over.n_ctx != known and not refitted:
                    self._n_ctx = over.n_ctx
                    refitted = True
                    attempt -= 1
                    kwargs["max_tokens"] = self._fit(messages, max_tokens)
                    continue
                raise self._overflow(over.n_ctx or known, over.needed or budget.estimate_tokens(messages)) from None
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
        prompt_tokens, completion_tokens = usage
        self.usage.append(
            Usage(role=role, model=self.config.model, prompt_tokens=prompt_tokens,
                  completion_tokens=completion_tokens, shot_id=shot_id)
        )
        return content, finish

    def _call(self, kwargs: dict[str, Any], *, has_format: bool, label: str) -> tuple[str | None, str | None, tuple[int, int]]:
        """One request: (content, finish_reason, (prompt tokens, completion tokens)); maps every
        openai exception to a retry signal or a domain error."""
        try:
            if self.config.stream:
                return self._streamed(kwargs, label)
            return self._whole(kwargs)
        except openai.APITimeoutError:
            raise _Retryable("timeout", f"no data for {self.config.timeout:g}s") from None
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
            over = budget.overflow_in(self._reason(e), getattr(e, "body", None))
            if over is not None:
                raise ContextOverflow("context exceeded", n_ctx=over[0], needed=over[1]) from None
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
        except (openai.APIError, ValueError) as e:  # e.g. an HTTP body that is not JSON, an error event
            over = budget.overflow_in(self._reason(e), getattr(e, "body", None))
            if over is not None:
                raise ContextOverflow("context exceeded", n_ctx=over[0], needed=over[1]) from None
            raise EndpointError(
                f"{self._where()} gave an answer that is not a chat completion ({self._reason(e)}); "
                "check that the base URL points at an OpenAI-compatible /v1 API"
            ) from None

    def _whole(self, kwargs: dict[str, Any]) -> tuple[str | None, str | None, tuple[int, int]]:
        completion = self._openai.chat.completions.create(**kwargs)
        choices = getattr(completion, "choices", None)
        if not choices:
            raise EndpointError(
                f"{self._where()} answered with something that is not a chat completion; "
                "check that the base URL points at an OpenAI-compatible /v1 API"
            )
        usage = getattr(completion, "usage", None)
        message = choices[0].message
        content = message.content
        refusal = getattr(message, "refusal", None)
        if not content and refusal:
            content = f"(refused: {refusal})"
        counts = (int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0))
        return content, getattr(choices[0], "finish_reason", None), counts

    def _streamed(self, kwargs: dict[str, Any], label: str) -> tuple[str | None, str | None, tuple[int, int]]:
        """The answer streamed chunk by chunk: the inactivity timeout is the read timeout between
        two chunks, and ``on_progress`` hears about it every :data:`PROGRESS_EVERY` seconds."""
        start = time.monotonic()
        first: float | None = None
        last_report = start
        parts: list[str] = []
        refusal: list[str] = []
        tokens = 0
        chunks = 0
        finish: str | None = None
        usage = None
        report = self.on_progress

        def progress(done: bool) -> None:
            now = time.monotonic()
            n = int(getattr(usage, "completion_tokens", 0) or 0) if done and usage is not None else tokens
            rate = (n / (now - first)) if first is not None and now - first > 0.05 else 0.0
            if report is not None:
                try:
                    report(Progress(label=label, tokens=n, seconds=now - start, tokens_per_second=rate, done=done))
                except Exception:  # a display problem never breaks the call
                    log.debug("progress callback failed", exc_info=True)

        stream = self._openai.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        try:
            for chunk in stream:
                chunks += 1
                if getattr(chunk, "usage", None) is not None:
                    usage = chunk.usage
                for choice in getattr(chunk, "choices", None) or []:
                    if getattr(choice, "index", 0) not in (0, None):
                        continue
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    thinking = (getattr(delta, "model_extra", None) or {}).get("reasoning_content") if delta else None
                    if text:
                        parts.append(text)
                    if getattr(delta, "refusal", None):
                        refusal.append(delta.refusal)
                    if text or thinking:
                        tokens += 1
                        if first is None:
                            first = time.monotonic()
                    if getattr(choice, "finish_reason", None):
                        finish = choice.finish_reason
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY:
                    last_report = now
                    progress(False)
        finally:
            stream.close()
        if chunks == 0:
            raise EndpointError(
                f"{self._where()} answered with something that is not a chat completion (no event stream); "
                "check that the base URL points at an OpenAI-compatible /v1 API"
            )
        progress(True)
        content = "".join(parts)
        if not content and refusal:
            content = f"(refused: {''.join(refusal)})"
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else \
            budget.estimate_tokens(kwargs["messages"])
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else tokens
        return content, finish, (prompt_tokens, completion_tokens)

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
                f"{where} sent nothing for {self.config.timeout:g}s, the inactivity timeout ({tries}); "
                "check that the server is not stuck or overloaded, or raise the timeout "
                "(DAILIES_LLM_TIMEOUT / DAILIES_VLM_TIMEOUT)"
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


def _with_schema_instructions(messages: list[Message], schema: type[BaseModel], include: bool,
                              json_schema: dict[str, Any] | None = None) -> list[Message]:
    """``messages`` with the JSON schema spelled out in the system message when ``include`` (json_object
    and text modes, or a server whose json_schema mode did not constrain)."""
    if not include:
        return messages
    note = prompts.render(
        "llm_schema",
        schema_name=schema.__name__,
        schema=json.dumps(json_schema if json_schema is not None else prompt_schema(schema),
                          ensure_ascii=False, separators=(",", ":")),
    )
    out = list(messages)
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0] = {**out[0], "content": out[0]["content"].rstrip() + "\n\n" + note}
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def _schema_hint(mode: str, schema: type[BaseModel], problem: str, json_schema: dict[str, Any] | None = None) -> str:
    """In json_schema mode the prompt lacks the schema; repeat it when the answer wasn't even JSON
    (the server may have ignored response_format)."""
    if mode == "json_schema" and ("not valid JSON" in problem or "answer was empty" in problem):
        return "The JSON schema to follow: " + json.dumps(
            json_schema if json_schema is not None else prompt_schema(schema), ensure_ascii=False, separators=(",", ":")
        )
    return ""
