"""Apply typed edits to a film (pure), predict what must be rendered again, and show the diff.

A shot keeps its identity (its manifest entry, seed and files) through renumbering, moves and
edits of other shots; only its input hash decides whether it is rendered again. The prediction
here follows the same rules as the hashes — a shot is re-rendered iff its own inputs changed, or it
continues (cut=false) a re-rendered or different predecessor, or its memory would differ (a
re-rendered shot's keyframes, pins, drops, references) — so the plan the user confirms is the
plan that runs.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from agents.director.requests import choose_memory
from schemas.bible import Bible, Character
from schemas.edit import (
    AddReference,
    DeleteShot,
    DropKeyframe,
    Edit,
    EditCharacter,
    EditPrompt,
    InsertShot,
    MoveShot,
    PinKeyframe,
    ReplaceText,
    Reroll,
    SetCut,
    UnpinKeyframe,
)
from schemas.memory import Keyframe, MemorySettings
from schemas.run import ShotState
from schemas.script import Scene, StoryScript, make_shot_id
from story.details import is_mentioned


class EditError(ValueError):
    """An edit cannot be applied to this film (unknown shot, phrase not found...); nothing changes."""


@dataclass
class _Entry:
    key: str
    scene_num: int
    prompt: str
    first_frame_prompt: str | None
    cut: bool
    cast: list[str]
    state: ShotState | None
    prompt_changed: bool = False
    reroll: int = 0


@dataclass
class Replacement:
    """One occurrence a ``replace`` changed."""

    where: str
    """The shot as the film was (``01-03``), ``01-03 first frame``, or a bible field (``Elias.attire``)."""
    old: str
    """The matched text, as it was written."""
    new: str
    """What replaced it (capitals of the match kept)."""
    before: str
    """The match in context (about 30 characters each side)."""
    after: str
    """The replacement in the same context."""


@dataclass
class Draft:
    """A film after edits, before anything is written."""

    script: StoryScript
    bible: Bible
    shots: list[ShotState]
    """New manifest entries in film order (existing shots keep state, seed and files)."""
    origin: dict[str, str | None]
    """New shot id -> the old shot id it was (None for an inserted shot)."""
    deleted: list[str] = field(default_factory=list)
    """Old shot ids removed from the film."""
    keyframe_ops: list[tuple[str, str]] = field(default_factory=list)
    """(``pin`` | ``unpin`` | ``drop``, keyframe id), applied to the bank on commit."""
    references: list[tuple[str, str]] = field(default_factory=list)
    """(character, image path) added as memory on commit."""
    notes: list[str] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)
    """Every occurrence ``replace`` edits changed, shot by shot, then the bible."""


def _resolve(ref: str, by_id: dict[str, _Entry], order: list[_Entry]) -> _Entry:
    if ref in by_id:
        return by_id[ref]
    if ref.isdigit() and 1 <= int(ref) <= len(order):
        return order[int(ref) - 1]
    raise EditError(f"shot {ref} does not exist (the film has shots 1-{len(order)}: "
                    f"{order[0].key} ... {order[-1].key})")


def _mentioned(prompt: str, bible: Bible) -> list[str]:
    return [c.name for c in bible.characters if is_mentioned(prompt, c)]


def _cased(c: str) -> bool:
    return c.isupper() or c.islower()


def match_case(matched: str, new: str) -> str:
    """``new`` with the capitals of ``matched``: ALL CAPS stays all caps (two cased letters or
    more), a capital first letter stays capital; otherwise ``new`` as the user wrote it (never
    lowered: "the whale" -> "Moby Dick" keeps its capitals)."""
    cased = [c for c in matched if _cased(c)]
    if len(cased) >= 2 and all(c.isupper() for c in cased):
        return new.upper()
    if cased and cased[0].isupper():
        i = next((i for i, c in enumerate(new) if _cased(c)), None)
        if i is not None:
            return new[:i] + new[i].title() + new[i + 1:]
    return new


def _replace(text: str, old: str, new: str, where: str | None = None, found: list[Replacement] | None = None) -> str:
    """``text`` with every case-insensitive occurrence of ``old`` replaced by ``new`` (capitals
    of each match kept); each occurrence is appended to ``found`` when given."""
    out, last = [], 0
    for m in re.finditer(re.escape(old), text, flags=re.IGNORECASE):
        repl = match_case(m.group(0), new)
        out.append(text[last:m.start()])
        if found is not None:
            pre = ("…" if m.start() > 30 else "") + text[max(0, m.start() - 30):m.start()]
            post = text[m.end():m.end() + 30] + ("…" if m.end() + 30 < len(text) else "")
            found.append(Replacement(where=where or "", old=m.group(0), new=repl,
                                     before=pre + m.group(0) + post, after=pre + repl + post))
        out.append(repl)
        last = m.end()
    return "".join(out) + text[last:]


def apply_edits(
    script: StoryScript,
    bible: Bible,
    shots: list[ShotState],
    keyframe_ids: set[str],
    edits: list[Edit],
) -> Draft:
    """The film after ``edits`` (applied in order; shot references mean the film as it was)."""
    original = script.shots()
    entries = [
        _Entry(key=s.id, scene_num=s.scene_num, prompt=s.prompt, first_frame_prompt=s.first_frame_prompt,
               cut=s.cut, cast=list(bible.cast.get(s.id, [])), state=st)
        for s, st in zip(original, shots)
    ]
    by_id = {e.key: e for e in entries}
    first_order = list(entries)
    characters = [c.model_copy(deep=True) for c in bible.characters]
    draft_notes: list[str] = []
    deleted: list[str] = []
    keyframe_ops: list[tuple[str, str]] = []
    references: list[tuple[str, str]] = []
    replacements: list[Replacement] = []
    inserted = 0

    def char(name: str) -> Character:
        for c in characters:
            if c.name.casefold() == name.casefold():
                return c
        raise EditError(f"character {name!r} is not in the bible (characters: "
                        f"{', '.join(c.name for c in characters) or 'none'})")

    def cast_for(prompt: str, fallback: list[str]) -> list[str]:
        found = _mentioned(prompt, Bible(characters=characters))
        return found or list(fallback)

    def place(entry: _Entry, anchor: _Entry, where: str) -> None:
        if anchor is entry:
            raise EditError(f"shot {entry.key} cannot be placed next to itself")
        if anchor not in entries:
            raise EditError(f"shot {anchor.key} was deleted by an earlier edit")
        i = entries.index(anchor) + (1 if where == "after" else 0)
        entries.insert(i, entry)
        entry.scene_num = anchor.scene_num

    for edit in edits:
        if isinstance(edit, EditPrompt):
            e = _resolve(edit.shot, by_id, first_order)
            e.prompt, e.prompt_changed = edit.prompt, True
            e.cast = cast_for(edit.prompt, e.cast)
        elif isinstance(edit, ReplaceText):
            targets = [_resolve(r, by_id, first_order) for r in edit.shots] if edit.shots else list(entries)
            found: list[Replacement] = []
            for e in targets:
                new = _replace(e.prompt, edit.old, edit.new, e.key, found)
                if new != e.prompt:
                    e.prompt, e.prompt_changed = new, True
                    e.cast = cast_for(new, e.cast)
                if e.first_frame_prompt:
                    e.first_frame_prompt = _replace(e.first_frame_prompt, edit.old, edit.new,
                                                    f"{e.key} first frame", found)
            if edit.shots is None:
                for c in characters:
                    for f in ("appearance", "attire", "age", "style"):
                        value = getattr(c, f)
                        new = _replace(value, edit.old, edit.new, f"{c.name}.{f}", found)
                        if new != value:
                            setattr(c, f, new)
            if not found:
                raise EditError(f'"{edit.old}" appears in no prompt{"" if edit.shots else " and nowhere in the bible"}')
            replacements.extend(found)
        elif isinstance(edit, InsertShot):
            anchor = _resolve(edit.anchor, by_id, first_order)
            inserted += 1
            e = _Entry(key=f"new-{inserted}", scene_num=anchor.scene_num, prompt=edit.prompt, first_frame_prompt=None,
                       cut=edit.cut, cast=cast_for(edit.prompt, []), state=None, prompt_changed=True)
            place(e, anchor, edit.where)
        elif isinstance(edit, DeleteShot):
            e = _resolve(edit.shot, by_id, first_order)
            if e not in entries:
                raise EditError(f"shot {edit.shot} is deleted twice")
            entries.remove(e)
            deleted.append(e.key)
        elif isinstance(edit, MoveShot):
            e = _resolve(edit.shot, by_id, first_order)
            anchor = _resolve(edit.anchor, by_id, first_order)
            if e not in entries:
                raise EditError(f"shot {edit.shot} was deleted by an earlier edit")
            entries.remove(e)
            place(e, anchor, edit.where)
        elif isinstance(edit, SetCut):
            _resolve(edit.shot, by_id, first_order).cut = edit.cut
        elif isinstance(edit, EditCharacter):
            c = char(edit.name)
            if edit.field == "name":
                new_name = edit.value.strip()
                if not new_name:
                    raise EditError("a character's name cannot be empty")
                pattern = re.compile(r"(?<![\w])" + re.escape(c.name) + r"(?![\w])")
                for e in entries:
                    new = pattern.sub(new_name, e.prompt)
                    if new != e.prompt:
                        e.prompt, e.prompt_changed = new, True
                    e.cast = [new_name if n.casefold() == c.name.casefold() else n for n in e.cast]
                c.name = new_name
            else:
                old = getattr(c, edit.field)
                setattr(c, edit.field, edit.value.strip())
                if old.strip():
                    for e in entries:
                        new = _replace(e.prompt, old, edit.value.strip())
                        if new != e.prompt:
                            e.prompt, e.prompt_changed = new, True
        elif isinstance(edit, (PinKeyframe, UnpinKeyframe, DropKeyframe)):
            if edit.keyframe not in keyframe_ids:
                raise EditError(f"keyframe {edit.keyframe} is not in the memory bank "
                                f"(keyframes: {', '.join(sorted(keyframe_ids)) or 'none'})")
            keyframe_ops.append((edit.op.split("_")[0], edit.keyframe))
        elif isinstance(edit, AddReference):
            c = char(edit.character)
            path = Path(edit.image).expanduser()
            try:
                with Image.open(path) as im:
                    im.verify()
            except FileNotFoundError:
                raise EditError(f"reference image {edit.image} not found") from None
            except (UnidentifiedImageError, OSError):
                raise EditError(f"reference image {edit.image} is not a readable image") from None
            references.append((c.name, str(path.resolve())))
        elif isinstance(edit, Reroll):
            _resolve(edit.shot, by_id, first_order).reroll += 1
        else:  # pragma: no cover - the union is closed
            raise EditError(f"unsupported edit {edit.op}")

    if not entries:
        raise EditError("the edits would leave the film with no shots")
    if not entries[0].cut:
        entries[0].cut = True
        draft_notes.append(f"shot {entries[0].key} now opens the film, so it became a cut")

    # Scenes: consecutive runs of one scene number, in order.
    scenes: list[Scene] = []
    new_ids: list[str] = []
    for e in entries:
        if scenes and scenes[-1].scene_num == e.scene_num:
            sc = scenes[-1]
            sc.video_prompts.append(e.prompt)
            sc.cut.append(e.cut)
            if sc.first_frame_prompt is not None:
                sc.first_frame_prompt.append(e.first_frame_prompt or e.prompt)
        else:
            if scenes and e.scene_num < scenes[-1].scene_num:
                raise EditError(f"shot {e.key} would break the scene order")
            scenes.append(Scene.model_construct(
                scene_num=e.scene_num, video_prompts=[e.prompt], cut=[e.cut],
                first_frame_prompt=[e.first_frame_prompt] if e.first_frame_prompt else None,
            ))
        new_ids.append(make_shot_id(e.scene_num, len(scenes[-1].video_prompts)))
    try:
        new_script = StoryScript.model_validate({
            "story_name": script.story_name, "story_overview": script.story_overview,
            "scenes": [s.model_dump(exclude_none=True) for s in scenes],
        })
    except ValidationError as err:
        first = err.errors()[0]
        raise EditError(f"the edited script is invalid: {first['msg'].removeprefix('Value error, ')}") from None
    cast = {sid: e.cast for sid, e in zip(new_ids, entries)}
    try:
        new_bible = Bible(characters=characters, cast=cast)
    except ValidationError as err:
        raise EditError(f"the edited bible is invalid: {err.errors()[0]['msg'].removeprefix('Value error, ')}") from None

    next_seed = max([s.seed_base or 0 for s in shots] + [0]) + 1
    states: list[ShotState] = []
    origin: dict[str, str | None] = {}
    for i, (sid, e) in enumerate(zip(new_ids, entries)):
        if e.state is None:
            st = ShotState(shot_id=sid, index=i, seed_base=next_seed)
            next_seed += 1
            origin[sid] = None
        else:
            st = e.state.model_copy(deep=True, update={"shot_id": sid, "index": i})
            if e.prompt_changed:
                st.directives.prompt = None
                st.directives.inject = []
            st.directives.reroll += e.reroll
            origin[sid] = e.key
        states.append(st)
    return Draft(script=new_script, bible=new_bible, shots=states, origin=origin, deleted=deleted,
                 keyframe_ops=keyframe_ops, references=references, notes=draft_notes,
                 replacements=replacements)


def predict_rerender(
    old_script: StoryScript,
    old_bible: Bible,
    old_shots: list[ShotState],
    draft: Draft,
    keyframes: list[Keyframe],
    settings: MemorySettings,
    select,
    *,
    damaged: set[str] = frozenset(),
) -> list[str]:
    """New shot ids that will be rendered again (the rest are reused byte for byte).

    ``damaged``: old shot ids whose files are not intact (:mod:`integrity`); they are rendered again.
    A shot rendered again is assumed to add at least one new keyframe to the bank (its real count is
    only known after rendering; it may add none when every candidate duplicates the bank), so the
    forecast is the set of shots whose memory may change; the director renders exactly this set
    (``RunManifest.rerender``) and nothing else, so what runs is what was announced."""
    old_by_id = {s.shot_id: s for s in old_shots}
    old_prompts = {s.id: s for s in old_script.shots()}
    ops = {kid: op for op, kid in draft.keyframe_ops}
    flagged = []
    for k in keyframes:
        op = ops.get(k.id)
        if op == "pin":
            k = k.model_copy(update={"pinned": True})
        elif op == "unpin":
            k = k.model_copy(update={"pinned": False})
        elif op == "drop":
            k = k.model_copy(update={"dropped": True})
        flagged.append(k)
    refs = [k for k in flagged if k.source == "reference"]
    refs += [Keyframe(id=f"new-ref-{i}", source="reference", path="-", sha256="0" * 64) for i, _ in enumerate(draft.references)]
    by_shot: dict[str, list[Keyframe]] = {}
    for k in flagged:
        if k.source == "shot" and k.shot_id:
            by_shot.setdefault(k.shot_id, []).append(k)

    affected: set[str] = set()
    history: list[Keyframe] = list(refs)
    new_shots = draft.script.shots()
    prev_origin: str | None = None
    for shot, st in zip(new_shots, draft.shots):
        origin = draft.origin[shot.id]
        old = old_by_id.get(origin) if origin else None
        old_shot = old_prompts.get(origin) if origin else None
        mine = by_shot.get(origin, []) if origin else []
        redo = (
            old is None or old.status != "accepted" or old_shot is None or origin in damaged
            or shot.prompt != old_shot.prompt or shot.cut != old_shot.cut
            or st.directives.model_dump() != old.directives.model_dump()
            or [c.model_dump() for c in draft.bible.in_shot(shot.id)] != [c.model_dump() for c in old_bible.in_shot(origin)]
        )
        if not redo and not shot.cut:
            predecessor_before = old_shots[old.index - 1].shot_id if old.index > 0 else None
            redo = prev_origin != predecessor_before or prev_origin in affected
        if not redo:
            memory = choose_memory(history, st.directives, settings, select)
            redo = [k.id for k in memory] != old.memory_ids
        if redo:
            affected.add(origin or shot.id)
            mine = [Keyframe(id=f"{shot.id}-new-{i}", source="shot", shot_id=shot.id, path="-", sha256="0" * 64)
                    for i in range(max(1, len(mine)))]
        history.extend(mine)
        prev_origin = origin or shot.id
    return [shot.id for shot in new_shots if (draft.origin[shot.id] or shot.id) in affected]


def film_text(script: StoryScript, bible: Bible) -> list[str]:
    """The film as lines for a diff: one line per shot, then the bible."""
    lines = [f"# {script.story_name}"]
    for s in script.shots():
        lines.append(f"{s.id} [{'cut' if s.cut else 'continue'}] {s.prompt}")
    lines.append("# bible")
    for c in bible.characters:
        lines.append(json.dumps(c.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False))
    return lines


def diff(old_script: StoryScript, old_bible: Bible, draft: Draft) -> str:
    """A unified diff of the film before and after the edits."""
    return "\n".join(difflib.unified_diff(
        film_text(old_script, old_bible), film_text(draft.script, draft.bible),
        fromfile="current", tofile="proposed", lineterm="",
    ))
