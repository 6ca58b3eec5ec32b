"""Prompt templates as data files, rendered strictly.

Every template is a file in this folder (``<name>.md`` or ``<name>.txt``) with ``$name`` or
``${name}`` placeholders (:class:`string.Template` syntax; ``$$`` is a literal dollar sign).
:func:`render` fails loudly, naming the template and the variable, when a placeholder has no value
or when a value is given that the template never uses, so a renamed variable can never silently
produce a prompt with a hole in it.

    >>> from prompts import render
    >>> render("llm_schema", schema="{}")  # doctest: +SKIP
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from string import Template

__all__ = ["PromptError", "names", "placeholders", "render", "source"]

_SUFFIXES = (".md", ".txt")


class PromptError(LookupError):
    """A template is missing, or its variables don't match the ones given (one-line message)."""


def names() -> list[str]:
    """Names of every template shipped in this package, sorted."""
    out = []
    for entry in resources.files(__name__).iterdir():
        for suffix in _SUFFIXES:
            if entry.name.endswith(suffix) and entry.is_file():
                out.append(entry.name[: -len(suffix)])
    return sorted(out)


@lru_cache(maxsize=None)
def source(name: str) -> str:
    """The raw text of template ``name`` (without rendering)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PromptError(f"invalid template name {name!r}: use a bare name such as 'planner_system'")
    root = resources.files(__name__)
    for suffix in _SUFFIXES:
        entry = root.joinpath(name + suffix)
        if entry.is_file():
            return entry.read_text(encoding="utf-8")
    raise PromptError(
        f"no prompt template named {name!r} in prompts/ (known: {', '.join(names()) or 'none'})"
    )


def placeholders(name: str) -> list[str]:
    """The variables template ``name`` uses, in order of first use."""
    text = source(name)
    found: list[str] = []
    for m in Template.pattern.finditer(text):
        if m.group("invalid") is not None:
            line = text.count("\n", 0, m.start()) + 1
            raise PromptError(
                f"template {name!r}, line {line}: a '$' that starts no placeholder "
                "(write '$$' for a literal dollar sign)"
            )
        var = m.group("named") or m.group("braced")
        if var and var not in found:
            found.append(var)
    return found


def render(name: str, /, **variables: object) -> str:
    """Template ``name`` with every placeholder replaced by ``str(value)``.

    Raises :class:`PromptError` when a placeholder has no value or a value is not used.
    """
    wanted = placeholders(name)
    missing = [v for v in wanted if v not in variables]
    if missing:
        raise PromptError(
            f"template {name!r} needs variable {missing[0]!r}"
            + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else "")
        )
    unused = sorted(set(variables) - set(wanted))
    if unused:
        raise PromptError(
            f"template {name!r} does not use variable {unused[0]!r}"
            + (f" (also unused: {', '.join(unused[1:])})" if unused[1:] else "")
            + f"; it uses: {', '.join(wanted) or 'no variables'}"
        )
    return Template(source(name)).substitute({k: str(v) for k, v in variables.items()})
