"""Reading and writing story scripts and bibles, with errors a person can act on.

Every rule violation is reported with the file, the scene, the shot and the rule, e.g.
``black.json: scene 2, shot 3: prompt is empty (rule: prompts are non-empty)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.bible import Bible
from schemas.plan import Plan
from schemas.script import MAX_PROMPT_CHARS, MAX_SCENE_NUM, Scene, StoryScript
from story.files import atomic_write_json
from story.words import count as counted


class ScriptError(ValueError):
    """A script or bible file cannot be used; ``violations`` lists every problem found."""

    def __init__(self, source: str, violations: list[str]):
        self.source = source
        self.violations = violations = list(dict.fromkeys(violations))  # each problem said once
        shown = "; ".join(violations[:6])
        more = f" (and {len(violations) - 6} more)" if len(violations) > 6 else ""
        super().__init__(f"{source}: {shown}{more}")


def bible_path_for(script_path: str | Path) -> Path:
    """Where a script's bible lives: ``story.json`` -> ``story.bible.json``."""
    p = Path(script_path)
    return p.with_name(p.stem + ".bible.json")


def read_json(path: str | Path, what: str = "file", *, json5: bool = False) -> Any:
    """Load JSON, turning every failure into a one-line :class:`ScriptError`. With ``json5``, text that is
    not JSON is read as JSON5 (comments, trailing commas, unquoted keys: what StoryMem's loader accepts);
    a file that is neither is reported with the JSON error's line and column."""
    p = Path(path)
    if not p.exists():
        raise ScriptError(str(p), [f"{what} not found; check the path"])
    if p.is_dir():
        raise ScriptError(str(p), [f"is a folder, not a {what}"])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScriptError(str(p), ["is not UTF-8 text; save it as UTF-8 JSON"]) from None
    except OSError as e:
        raise ScriptError(str(p), [f"cannot be read ({e.strerror})"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        if json5:
            import json5 as _json5

            try:
                return _json5.loads(text)
            except (ValueError, RecursionError):
                pass
        kind, fix = ("JSON (nor JSON5)" if json5 else "JSON"), "fix the syntax"
        if not json5 and _is_json5(text):
            fix = "it is JSON5, which only a non-strict reading accepts (drop --strict)"
        raise ScriptError(
            str(p), [f"is not valid {kind} (line {e.lineno}, column {e.colno}: {e.msg}); {fix}"]
        ) from None
    except RecursionError:
        raise ScriptError(str(p), ["nests too deeply to be a story script or bible"]) from None


def _is_json5(text: str) -> bool:
    import json5 as _json5

    try:
        _json5.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _scene_label(raw: Any, index: int) -> str:
    try:
        num = raw["scenes"][index]["scene_num"]
        if isinstance(num, int):
            return f"scene {num}"
    except (KeyError, IndexError, TypeError):
        pass
    return f"scene #{index + 1}"


def _describe(loc: tuple, raw: Any) -> str:
    """Turn a pydantic error location into ``scene N, shot K`` words."""
    if not loc:
        return "script"
    if loc[0] == "scenes" and len(loc) >= 2 and isinstance(loc[1], int):
        where = _scene_label(raw, loc[1])
        rest = loc[2:]
        if len(rest) >= 2 and rest[0] in ("video_prompts", "first_frame_prompt", "cut") and isinstance(rest[1], int):
            return f"{where}, shot {rest[1] + 1}, {rest[0]}"
        if rest:
            return f"{where}, {'.'.join(str(x) for x in rest)}"
        return where
    return ".".join(str(x) for x in loc)


def _violations(err: ValidationError, raw: Any) -> list[str]:
    out = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "field is missing (rule: ST-Bench fields are story_name, story_overview, scenes)"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field (rule: only ST-Bench fields; our additions go in the bible file)"
        elif e["type"] == "too_short" and e["loc"][-1:] == ("scenes",):
            msg = "no scenes (rule: at least one shot)"
        elif e["type"] == "too_short" and e["loc"][-1:] == ("video_prompts",):
            msg = "no video prompts (rule: at least one shot)"
        elif e["loc"][-1:] == ("scene_num",) and e["type"] in ("less_than_equal", "greater_than_equal"):
            msg = f"scene number {e['input']} is out of range (rule: scene numbers are 0 to {MAX_SCENE_NUM}, so shot ids stay short)"
        out.append(f"{_describe(tuple(e['loc']), raw)}: {msg}")
    return out


def _rule_violations(raw: dict) -> list[str]:
    """Every ST-Bench rule broken by ``raw``, checked as far as its shape allows (so that one
    report lists them all, not only the first layer pydantic reaches)."""
    out: list[str] = []
    scenes = raw.get("scenes")
    if not isinstance(scenes, list):
        return out
    if not scenes:
        return ["scenes: no scenes (rule: at least one shot)"]
    prev_num = None
    for i, sc in enumerate(scenes):
        if not isinstance(sc, dict):
            continue
        where = _scene_label(raw, i)
        prompts, cut, ffp = sc.get("video_prompts"), sc.get("cut"), sc.get("first_frame_prompt")
        if isinstance(prompts, list):
            if not prompts:
                out.append(f"{where}: no video prompts (rule: at least one shot)")
            if isinstance(cut, bool):
                cut = [cut] + [True] * max(len(prompts) - 1, 0)
            for field, values in (("video_prompts", prompts), ("first_frame_prompt", ffp)):
                if not isinstance(values, list):
                    continue
                for k, p in enumerate(values):
                    if isinstance(p, str):
                        label = f"{where}, shot {k + 1}" + (", first_frame_prompt" if field != "video_prompts" else "")
                        if not p.strip():
                            out.append(f"{label}: prompt is empty (rule: prompts are non-empty)")
                        elif len(p) > MAX_PROMPT_CHARS:
                            out.append(f"{label}: prompt has {len(p)} characters (rule: at most {MAX_PROMPT_CHARS} characters)")
            if isinstance(cut, list) and len(cut) != len(prompts):
                out.append(f"{where}: cut has {counted(len(cut), 'entry')} but video_prompts has {len(prompts)} (rule: list lengths are equal)")
            if isinstance(ffp, list) and len(ffp) != len(prompts):
                out.append(f"{where}: first_frame_prompt has {counted(len(ffp), 'entry')} but video_prompts has {len(prompts)} "
                           "(rule: list lengths are equal)")
        if i == 0 and isinstance(cut, list) and cut and cut[0] is False:
            out.append(f"{where}, shot 1: cut is false (rule: the first shot is a cut)")
        num = sc.get("scene_num")
        if isinstance(num, int) and not isinstance(num, bool):
            if prev_num is not None and num <= prev_num:
                out.append(f"{where}: follows scene {prev_num} (rule: scene numbers increase)")
            prev_num = num
    return out


def _rule_checked(error: dict) -> bool:
    """Whether :func:`_rule_violations` reports the pydantic ``error`` already: the models' own rule
    checks (``value_error``) and empty ``scenes`` / ``video_prompts`` lists (``too_short``)."""
    return error["type"] == "value_error" or (
        error["type"] == "too_short" and error["loc"][-1:] in (("scenes",), ("video_prompts",)))


def parse_script(raw: Any, source: str) -> StoryScript:
    """Validate already-parsed JSON as an ST-Bench script, reporting every violation at once."""
    if not isinstance(raw, dict):
        raise ScriptError(source, ["must be a JSON object with story_name, story_overview and scenes"])
    rules = _rule_violations(raw)
    try:
        script = StoryScript.model_validate(raw)
    except ValidationError as e:
        # Rule breaks are already in `rules`; keep pydantic's shape errors (types, missing, unknown fields),
        # not its reports of the same rules (each violation is said once).
        shape = _violations(e, raw) if not rules else [
            v for v, er in zip(_violations(e, raw), e.errors()) if not _rule_checked(er)
        ]
        raise ScriptError(source, list(dict.fromkeys(rules + shape))) from None
    if rules:  # cannot happen: the models enforce the same rules
        raise ScriptError(source, rules)
    return script


def unknown_keys(raw: Any) -> list[str]:
    """The keys of a script's JSON that are not ST-Bench fields, as ``key`` (top level) or
    ``scenes[].key (scenes 1, 2)``, in first-seen order."""
    if not isinstance(raw, dict):
        return []
    top = [k for k in raw if k not in StoryScript.model_fields]
    per_scene: dict[str, list[str]] = {}
    scenes = raw.get("scenes")
    for i, sc in enumerate(scenes if isinstance(scenes, list) else []):
        if isinstance(sc, dict):
            for k in sc:
                if k not in Scene.model_fields:
                    per_scene.setdefault(k, []).append(_scene_label(raw, i).removeprefix("scene "))
    return top + [f"scenes[].{k} (scene{'s' if len(where) > 1 else ''} {', '.join(where)})" for k, where in per_scene.items()]


def _without_unknown_keys(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k in StoryScript.model_fields}
    if isinstance(out.get("scenes"), list):
        out["scenes"] = [{k: v for k, v in sc.items() if k in Scene.model_fields} if isinstance(sc, dict) else sc
                         for sc in out["scenes"]]
    return out


def read_script(path: str | Path, *, strict: bool = True) -> tuple[StoryScript, list[str]]:
    """Load and validate an ST-Bench script; returns it and the keys that were ignored.

    ``strict``: JSON only and no unknown key (the ST-Bench contract exactly). Otherwise the file is read as
    StoryMem's loader reads it: JSON5, and keys that are not ST-Bench fields (another tool's per-scene
    extras) are left out of the script and listed, never silently dropped."""
    raw = read_json(path, "story script", json5=not strict)
    if strict:
        return parse_script(raw, Path(path).name), []
    ignored = unknown_keys(raw)
    try:
        return parse_script(_without_unknown_keys(raw), Path(path).name), ignored
    except ScriptError as e:
        if ignored:  # a misspelt field shows up as missing: say which keys were not read
            e.violations.append(f"ignored keys that are not ST-Bench fields: {', '.join(ignored)}")
            raise ScriptError(e.source, e.violations) from None
        raise


def load_script(path: str | Path) -> StoryScript:
    """Load and validate an ST-Bench script strictly (older per-scene ``cut`` bools are normalised)."""
    return read_script(path, strict=True)[0]


def parse_bible(raw: Any, source: str, script: StoryScript | None = None) -> Bible:
    if not isinstance(raw, dict):
        raise ScriptError(source, ["must be a JSON object with characters and cast"])
    try:
        bible = Bible.model_validate(raw)
    except ValidationError as e:
        raise ScriptError(
            source, [f"{'.'.join(str(x) for x in er['loc']) or 'bible'}: {er['msg'].removeprefix('Value error, ')}" for er in e.errors()]
        ) from None
    if script is not None:
        try:
            Plan(script=script, bible=bible)
        except ValidationError as e:
            raise ScriptError(source, [er["msg"].removeprefix("Value error, ") for er in e.errors()]) from None
    return bible


def load_bible(path: str | Path, script: StoryScript | None = None, *, json5: bool = False) -> Bible:
    """Load and validate a bible file (and check its cast against ``script`` when given); ``json5`` also
    accepts JSON5 syntax (its keys stay strict: the bible is dailies' own format)."""
    return parse_bible(read_json(path, "bible", json5=json5), Path(path).name, script)


def save_script(script: StoryScript, path: str | Path) -> None:
    atomic_write_json(path, script.to_json_dict())


def save_bible(bible: Bible, path: str | Path) -> None:
    atomic_write_json(path, bible.model_dump(mode="json"))


def save_plan(plan: Plan, script_path: str | Path) -> Path:
    """Write ``story.json`` (pure ST-Bench) and ``story.bible.json`` beside it; returns the bible path."""
    save_script(plan.script, script_path)
    bpath = bible_path_for(script_path)
    save_bible(plan.bible, bpath)
    return bpath
