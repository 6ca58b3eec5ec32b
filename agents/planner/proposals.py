"""Logline proposals for a theme (``main.py batch --theme "..." --count N``).

A proposer returns N distinct loglines for a theme: the offline one (deterministic, no model:
:mod:`agents.planner.offline.proposer`) or a chat model through the structured client (one call,
validated by :class:`LoglineList`, repaired by re-asking with the validation error). The theme, like
a logline, is story text: it reaches a model only as a quoted JSON string between tags.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.planner.base import PlannerError
from agents.planner.logline import MAX_LOGLINE_CHARS, _clean_text, clean_logline

MAX_THEME_CHARS = 200
MAX_COUNT = 100


def clean_theme(theme: object) -> str:
    """The theme with whitespace normalised, or :class:`PlannerError` (empty, too long, control characters)."""
    text = _clean_text(theme, "theme")
    if not text:
        raise PlannerError('--theme is empty; name what the films are about, e.g. --theme "friendship at sea"')
    if len(text) > MAX_THEME_CHARS:
        raise PlannerError(f"--theme has {len(text)} characters, more than {MAX_THEME_CHARS}; say it in a few words")
    return text


def check_count(count: object) -> int:
    if count is None:
        raise PlannerError("--theme needs --count N: how many films to propose and render")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise PlannerError(f"--count {count!r}: give a whole number of films from 1 to {MAX_COUNT}")
    return count


class Proposer(Protocol):
    name: str

    def propose(self, theme: str, count: int) -> list[str]:
        """``count`` distinct loglines about ``theme``."""
        ...


class OfflineProposer:
    """The embedded default: :func:`agents.planner.offline.proposer.propose`. Name ``offline``."""

    name = "offline"

    def propose(self, theme: str, count: int) -> list[str]:
        from agents.planner.offline.proposer import propose

        out = propose(clean_theme(theme), check_count(count))
        if len(out) < count:
            raise PlannerError(f"the offline proposer found only {len(out)} distinct loglines; ask for fewer")
        return out


class LoglineList(BaseModel):
    """The model's answer: the loglines, each one sentence."""

    model_config = ConfigDict(extra="forbid")

    loglines: list[str] = Field(min_length=1, max_length=MAX_COUNT)

    @field_validator("loglines")
    @classmethod
    def _each(cls, v: list[str]) -> list[str]:
        out, seen = [], set()
        for n, text in enumerate(v, start=1):
            try:
                clean = clean_logline(text)
            except PlannerError as e:
                raise ValueError(f"logline {n}: {e}") from None
            if clean.casefold() in seen:
                raise ValueError(f"logline {n} repeats an earlier one; every logline must be a different story")
            seen.add(clean.casefold())
            out.append(clean)
        return out


class LLMProposer:
    """Asks a chat model for the loglines. Name ``llm:<model>``."""

    def __init__(self, client) -> None:
        self.client = client
        self.name = f"llm:{client.model}"

    def propose(self, theme: str, count: int) -> list[str]:
        import prompts
        from agents.llm import LLMError
        from agents.planner.llm import quote_logline

        theme, count = clean_theme(theme), check_count(count)

        def exact(d: LoglineList) -> list[str]:
            if len(d.loglines) != count:
                raise ValueError(f"there are {len(d.loglines)} loglines; give exactly {count}")
            return d.loglines

        try:
            return self.client.complete_structured(
                [{"role": "system", "content": prompts.render("planner_system")},
                 {"role": "user", "content": prompts.render(
                     "planner_loglines", theme=quote_logline(theme), count=count, max_chars=MAX_LOGLINE_CHARS)}],
                LoglineList, role="planner", postprocess=exact,
            )
        except LLMError as e:
            raise PlannerError(f"logline proposals failed: {e}") from None


def build_proposer(llm_model: str | None = None, base_url: str | None = None) -> Proposer:
    """The LLM proposer when a planner model is configured, else the offline one."""
    if not llm_model:
        return OfflineProposer()
    from agents.llm import LLMClient, LLMConfig

    return LLMProposer(LLMClient(LLMConfig.from_env(model=llm_model, base_url=base_url, role="llm")))
