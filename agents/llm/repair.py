"""Repairing a model's JSON answer without the model, guided by the JSON schema.

Small models (and servers that ignore ``response_format``) often give an answer that is right in
substance but breaks a limit: seven characters where the schema allows six, a prompt a few words
too long, an optional field left out, a key the schema does not know. Asking the model again costs
a full generation (minutes on a CPU) and often fails the same way, so what can be fixed
deterministically is fixed here, and each fix is reported:

- an array longer than ``maxItems`` keeps its first ``maxItems`` items;
- a string longer than ``maxLength`` is cut at the last word boundary that fits;
- a key the schema does not allow (``additionalProperties: false``) is dropped;
- a missing property that has a ``default`` gets the default.

Anything else (a missing required field, a wrong type, too few items, a broken cross-field rule)
is left for the validation error to be fed back to the model.

    data, notes = repair(json.loads(answer), BibleDraft.model_json_schema())
    # notes == ["characters: kept the first 6 of 7 items"]
"""

from __future__ import annotations

import copy
from typing import Any

_MAX_NOTES = 12


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        target = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    return node


def _branch(node: dict[str, Any], value: Any, defs: dict[str, Any]) -> dict[str, Any] | None:
    """The ``anyOf``/``oneOf`` branch that ``value`` is meant to be: the one whose ``const``/``enum``
    discriminator matches, else the only object branch, else the only one whose type fits."""
    branches = [_resolve(b, defs) for b in node.get("anyOf") or node.get("oneOf") or []]
    if not branches:
        return None
    if isinstance(value, dict):
        objects = [b for b in branches if b.get("type") == "object" or "properties" in b]
        for b in objects:
            for key, prop in (b.get("properties") or {}).items():
                prop = _resolve(prop, defs)
                allowed = [prop["const"]] if "const" in prop else prop.get("enum")
                if allowed and len(allowed) == 1 and value.get(key) == allowed[0]:
                    return b
        return objects[0] if len(objects) == 1 else None
    typed = {"str": "string", "list": "array", "int": "integer", "float": "number", "bool": "boolean"}
    want = typed.get(type(value).__name__)
    fits = [b for b in branches if b.get("type") == want or (want == "integer" and b.get("type") == "number")]
    return fits[0] if len(fits) == 1 else None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    if space >= limit * 0.5:
        head = head[:space]
    return head.rstrip(" ,;:-")


def repair(data: Any, schema: dict[str, Any]) -> tuple[Any, list[str]]:
    """(a repaired copy of ``data``, one note per fix) for the JSON ``schema`` (a pydantic model's
    ``model_json_schema()``, with its ``$defs``). ``data`` itself is never modified."""
    defs = schema.get("$defs", {})
    notes: list[str] = []

    def note(path: str, what: str) -> None:
        if len(notes) < _MAX_NOTES:
            notes.append(f"{path or '(answer)'}: {what}")

    def walk(value: Any, node: dict[str, Any], path: str) -> Any:
        node = _resolve(node, defs)
        if "anyOf" in node or "oneOf" in node:
            branch = _branch(node, value, defs)
            return walk(value, branch, path) if branch is not None else value
        if "allOf" in node and len(node["allOf"]) == 1:
            return walk(value, node["allOf"][0], path)
        if isinstance(value, dict) and (node.get("type") == "object" or "properties" in node):
            props = node.get("properties") or {}
            out = {}
            for key, item in value.items():
                if key in props:
                    out[key] = walk(item, props[key], f"{path}.{key}" if path else key)
                elif node.get("additionalProperties") is False:
                    note(path, f"dropped the unknown field {key!r}")
                elif isinstance(node.get("additionalProperties"), dict):
                    out[key] = walk(item, node["additionalProperties"], f"{path}.{key}" if path else key)
                else:
                    out[key] = item
            required = set(node.get("required") or ())
            for key, prop in props.items():
                prop = _resolve(prop, defs)
                if key not in out and key not in required and "default" in prop:
                    out[key] = copy.deepcopy(prop["default"])
                    note(f"{path}.{key}" if path else key, f"missing, set to its default {prop['default']!r}")
            return out
        if isinstance(value, list) and (node.get("type") == "array" or "items" in node):
            limit = node.get("maxItems")
            if isinstance(limit, int) and len(value) > limit:
                note(path, f"kept the first {limit} of {len(value)} items")
                value = value[:limit]
            items = node.get("items")
            if isinstance(items, dict):
                value = [walk(v, items, f"{path}.{i}") for i, v in enumerate(value)]
            return value
        if isinstance(value, str) and node.get("type") == "string":
            limit = node.get("maxLength")
            if isinstance(limit, int) and len(value) > limit:
                note(path, f"shortened from {len(value)} to at most {limit} characters")
                return _cut(value, limit)
        return value

    return walk(copy.deepcopy(data), schema, ""), notes
