"""The offline reviser: a small command grammar, no model.

The commands and their rules are :data:`USAGE`, the plain text ``chat``'s ``help`` shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from agents.reviser.base import FilmContext, ReviseError
from schemas.edit import (
    AddReference,
    DeleteShot,
    DropKeyframe,
    EditCharacter,
    EditList,
    EditPrompt,
    InsertShot,
    MoveShot,
    PinKeyframe,
    ReplaceText,
    Reroll,
    SetCut,
    UnpinKeyframe,
)
from story.words import count as counted

SHOT = r"(?:shot\s+)?(\d{2,}-\d{2,}|\d{1,4})"
QUOTES = "\"“”'‘’"
QUOTED = f"[{QUOTES}]"
LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What ends a line, and with it any free text: a prompt is one line (``\\u2028`` and the like are text)."""
END = r"\s*(?:;|$)"
"""The end of a command without free text: ``;`` or the end of the line."""
MAX_COMMANDS = 64

USAGE = """\
Requests the command grammar understands (with a model -- --llm-model, or OPENAI_BASE_URL -- plain
words work too).
A shot is its id (02-01) or its position (3).

  shot 3: <new prompt>                       edit a shot's prompt
  replace "red coat" with "blue coat"        in every prompt and the bible (keeps the matched
  replace "dusk" with "dawn" in 2, 02-03       text's capitals: "Dusk" -> "Dawn"); only in those shots
  insert after 3: <prompt>                   new shot (insert before 1: ...; add
  insert after 3 continuing: <prompt>          "continuing" for cut=false)
  delete 4          move 5 after 2           move 5 before 1
  cut 4             continue 4               (set the cut flag true / false)
  character Mia: attire = a blue raincoat    (fields: name, appearance, attire, age, style)
  reroll 5          pin keyframe 02-01-k1    unpin keyframe 02-01-k1    drop keyframe 02-01-k1
  reference Mia: path/to/image.png           a reference image as memory

One command per line. The text after "shot N:", "insert ... N:", "character X: field =" and
"reference X:" is yours to the end of the line, whatever it holds (semicolons, quotes, any
script or emoji), so only a line break ends it. The other commands can also be separated by ";"
on one line (reroll 2; delete 4; shot 3: Rain; wind. -- a free-text command goes last).
"""
"""What the grammar understands, as plain text for a terminal (``chat``'s ``help``)."""

HELP = (
    'try e.g. `shot 3: <new prompt>`, `replace "red coat" with "blue coat"`, `reroll 5`, '
    '`insert after 3: <prompt>`, `delete 4`, `move 5 after 2`, `continue 4`, '
    '`character Mia: attire = a blue coat`, `drop keyframe 02-01-k1`, one per line (or configure --llm-model '
    "for requests in plain words)"
)


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


# Commands whose last argument is free text: it runs to the end of the line.
_FREE_TEXT: list[tuple[re.Pattern[str], callable]] = [
    (_c(rf"{SHOT}\s*:(?P<text>.*)$"),
     lambda m: EditPrompt(shot=m.group(1), prompt=m.group("text").strip())),
    (_c(rf"insert\s+(?P<where>before|after)\s+{SHOT}(?P<cont>\s+continuing)?\s*:(?P<text>.*)$"),
     lambda m: InsertShot(anchor=m.group(2), where=m.group("where").lower(), prompt=m.group("text").strip(),
                          cut=not m.group("cont"))),
    (_c(r"character\s+(?P<name>[^:]+?)\s*:\s*(?P<field>name|appearance|attire|age|style)\s*=(?P<value>.*)$"),
     lambda m: EditCharacter(name=m.group("name").strip(), field=m.group("field").lower(),
                             value=m.group("value").strip())),
    (_c(r"reference\s+(?P<name>[^:]+?)\s*:(?P<path>.*)$"),
     lambda m: AddReference(character=m.group("name").strip(), image=m.group("path").strip())),
]

# Commands without free text: they end at ``;`` or the end of the line.
_FIXED: list[tuple[re.Pattern[str], callable]] = [
    (_c(rf"(?:delete|remove)\s+{SHOT}{END}"), lambda m: DeleteShot(shot=m.group(1))),
    (_c(rf"move\s+{SHOT}\s+(?P<where>before|after)\s+{SHOT}{END}"),
     lambda m: MoveShot(shot=m.group(1), where=m.group("where").lower(), anchor=m.group(3))),
    (_c(rf"(?P<verb>cut|continue)\s+{SHOT}{END}"),
     lambda m: SetCut(shot=m.group(2), cut=m.group("verb").lower() == "cut")),
    (_c(rf"(?:reroll|re-roll|rerender|re-render)\s+{SHOT}{END}"), lambda m: Reroll(shot=m.group(1))),
    (_c(rf"(?P<verb>pin|unpin|drop)\s+keyframe\s+(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]*){END}"),
     lambda m: {"pin": PinKeyframe, "unpin": UnpinKeyframe, "drop": DropKeyframe}[m.group("verb").lower()](
         keyframe=m.group("id"))),
]

_REPLACE = _c(rf"replace\s+{QUOTED}")
_WITH = _c(rf"{QUOTED}\s+(?:with|by)\s+{QUOTED}")
_REPLACE_END = _c(rf"{QUOTED}(?:\s+in\s+(?:shots?\s+)?(?P<shots>[\d\-,\s]*\d)\s*)?{END}")


def _replace_candidates(line: str, pos: int):
    """``replace "OLD" with "NEW" [in shots]``: every way to read the quotes, shortest OLD and NEW
    first (a quote inside OLD or NEW is text when the rest of the line still reads as commands)."""
    head = _REPLACE.match(line, pos)
    if not head:
        return
    quotes = [i for i in range(head.end(), len(line)) if line[i] in QUOTES]
    for q in quotes:
        if q == head.end():
            continue  # OLD is never empty
        w = _WITH.match(line, q)
        if not w:
            continue
        for r in quotes:
            if r < w.end():
                continue
            tail = _REPLACE_END.match(line, r)
            if tail:
                shots = re.findall(r"\d{2,}-\d{2,}|\d{1,4}", tail.group("shots")) if tail.group("shots") else None
                yield (lambda o=line[head.end():q], n=line[w.end():r], s=shots: ReplaceText(old=o, new=n, shots=s)), tail.end()


def _candidates(line: str, pos: int):
    """(build, end) for every command that can start at ``pos``, in order of preference."""
    for pattern, build in _FREE_TEXT:
        m = pattern.match(line, pos)
        if m:
            yield (lambda b=build, m=m: b(m)), m.end()
    for pattern, build in _FIXED:
        m = pattern.match(line, pos)
        if m:
            yield (lambda b=build, m=m: b(m)), m.end()
    yield from _replace_candidates(line, pos)


@dataclass
class _Parse:
    """One line being read: positions known not to start a valid rest, and the furthest failure."""

    line: str
    failed: set[int] = field(default_factory=set)
    furthest: int = -1
    error: str | None = None

    def fail(self, pos: int, error: str | None = None) -> None:
        if pos > self.furthest:
            self.furthest, self.error = pos, error
        elif pos == self.furthest and error and not self.error:
            self.error = error

    def command_at(self, pos: int) -> str:
        rest = self.line[pos:]
        return (rest.split(";", 1)[0] if ";" in rest else rest).strip()


def _skip(line: str, pos: int) -> int:
    while pos < len(line) and (line[pos] == ";" or line[pos].isspace()):
        pos += 1
    return pos


def _read(p: _Parse, pos: int, depth: int) -> list[BaseModel] | None:
    """The edits of ``p.line[pos:]``, or None when it does not read as commands."""
    pos = _skip(p.line, pos)
    if pos == len(p.line):
        return []
    if depth >= MAX_COMMANDS:
        raise ReviseError(f"a request holds at most {MAX_COMMANDS} commands; split it")
    if pos in p.failed:
        return None
    for build, end in _candidates(p.line, pos):
        try:
            edit = build()
        except ValidationError as e:
            p.fail(pos, f"`{p.line[pos:end].strip().rstrip(';').strip()[:80]}`: {e.errors()[0]['msg']}")
            continue
        rest = _read(p, end, depth + 1)
        if rest is not None:
            return [edit, *rest]
    p.failed.add(pos)
    p.fail(pos)
    return None


def parse(request: str) -> list[BaseModel]:
    """The edits a request's commands describe, in order; :class:`ReviseError` names the first
    command that does not read (and the fix)."""
    edits: list[BaseModel] = []
    for line in LINE_BREAK.split(request):
        p = _Parse(line)
        got = _read(p, 0, len(edits))
        if got is None:
            if p.error:
                raise ReviseError(p.error)
            raise ReviseError(f"cannot turn `{p.command_at(p.furthest)[:80]}` into an edit; {HELP}")
        edits.extend(got)
    return edits


def _commands_in_text(edits: list[BaseModel]) -> list[str]:
    """Free texts holding ``; <a command>``: kept as text, but worth a note in the proposal."""
    notes = []
    for e in edits:
        if isinstance(e, EditPrompt):
            text, where = e.prompt, f"the prompt of shot {e.shot}"
        elif isinstance(e, InsertShot):
            text, where = e.prompt, f"the shot inserted {e.where} {e.anchor}"
        elif isinstance(e, EditCharacter):
            text, where = e.value, f"the {e.field} of {e.name}"
        else:
            continue
        for m in re.finditer(";", text):
            rest = text[m.end():]
            if rest.strip() and _read(_Parse(rest), 0, 0):
                notes.append(f"{where} ends with {text[m.start():][:40]!r}, kept as text (put each command on its own line)")
                break
    return notes


class GrammarReviser:
    """Embedded default reviser (``grammar``): parses the documented commands, nothing else."""

    name = "grammar"

    def edits(self, request: str, context: FilmContext | None = None) -> EditList:
        edits = parse(request)
        if not edits:
            raise ReviseError(f"the request is empty; {HELP}")
        summary = f"{counted(len(edits), 'edit')} from the command grammar"
        notes = _commands_in_text(edits)
        if notes:
            summary = f"{summary}; note: {notes[0]}"[:500]
        return EditList(edits=edits, summary=summary)
