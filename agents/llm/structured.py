"""Structured output: the JSON schema sent to the endpoint, and parsing/validating what comes back.

Three ways to ask for JSON, tried in this order (the client remembers what an endpoint supports):

1. ``json_schema``: ``response_format={"type": "json_schema", ...}`` with a strict-mode schema derived
   from the pydantic model (OpenAI, vLLM, recent llama.cpp and Ollama constrain decoding with it).
   It first carries the length and count limits (``maxItems``, ``maxLength``, ``minimum``...),
   which llama.cpp and vLLM compile into the grammar, so a small model cannot write seven
   characters where six are allowed; a server that rejects those keywords (OpenAI's strict mode
   rejects some) is asked again with the plain strict schema, and the client remembers;
2. ``json_object``: ``response_format={"type": "json_object"}`` plus the schema in the prompt;
3. ``text``: no response_format, the schema in the prompt.

Whatever the mode, the answer is parsed here (tolerating code fences, ``<think>`` blocks and prose
around the object) and validated by the pydantic model, which stays the single source of truth:
the strict schema leaves out constraints (lengths, patterns) that strict mode can't express, and
the model's validation catches them.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

# Keywords OpenAI's strict mode rejects or that only pydantic needs to check.
_DROP_KEYS = {
    "default", "discriminator", "examples", "exclusiveMaximum", "exclusiveMinimum", "format",
    "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength", "minProperties",
    "minimum", "multipleOf", "pattern", "propertyNames", "title", "uniqueItems",
}
CONSTRAINT_KEYS = {
    "maxItems", "minItems", "maxLength", "minLength", "maximum", "minimum", "exclusiveMaximum",
    "exclusiveMinimum", "pattern",
}
"""Limits a grammar-constrained server (llama.cpp, vLLM) enforces while decoding; sent in the first
``json_schema`` attempt (see the module docstring)."""


def prompt_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's full JSON schema (with its constraints), for putting into a prompt."""
    return model.model_json_schema()


def schema_name(model: type[BaseModel]) -> str:
    """A name for ``response_format.json_schema.name`` (``^[A-Za-z0-9_-]{1,64}$``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64] or "Response"


def strict_schema(model: type[BaseModel] | dict[str, Any], *, constraints: bool = False) -> tuple[dict[str, Any], bool]:
    """A strict-mode JSON schema for ``model`` (a pydantic model or its JSON schema) and whether
    strict mode can express it. With ``constraints`` the limits of :data:`CONSTRAINT_KEYS` are kept.

    Every object gets ``additionalProperties: false`` and all its properties required, ``oneOf``
    becomes ``anyOf``, ``const`` becomes a one-value ``enum``, ``$ref`` with sibling keys is inlined,
    and unsupported keywords are dropped. A free-form mapping (``dict[str, X]``) can't be strict:
    then the schema is still returned, with ``False``, and sent with ``strict: false``.
    """
    root = copy.deepcopy(model if isinstance(model, dict) else model.model_json_schema())
    defs = root.get("$defs", {})
    drop = _DROP_KEYS - CONSTRAINT_KEYS if constraints else _DROP_KEYS
    ok = [True]

    def resolve(ref: str) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[-1]
        return copy.deepcopy(defs[name])

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and len(node) > 1:
            merged = resolve(node["$ref"])
            merged.update({k: v for k, v in node.items() if k != "$ref"})
            node = merged
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in drop:
                continue
            if key == "oneOf":
                out["anyOf"] = fix(value)
            elif key == "const":
                out["enum"] = [value]
            elif key in ("properties", "$defs"):
                out[key] = {k: fix(v) for k, v in value.items()}
            elif key in ("items", "anyOf", "allOf", "prefixItems", "not"):
                out[key] = fix(value)
            elif key == "additionalProperties":
                if isinstance(value, dict):
                    ok[0] = False
                    out[key] = fix(value)
                else:
                    out[key] = value
            else:
                out[key] = value
        if out.get("type") == "object" or "properties" in out:
            if "properties" in out:
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            elif not isinstance(out.get("additionalProperties"), dict):
                out["additionalProperties"] = False
                out.setdefault("properties", {})
                out["required"] = []
        return out

    return fix(root), ok[0]


def response_format(mode: str, model: type[BaseModel], *, constraints: bool = False,
                    schema: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The ``response_format`` request field for ``mode`` (None for plain text).

    ``schema``: a JSON schema to send instead of ``model``'s own (a tighter one, e.g. with the valid
    shot ids as an enum); the answer is still validated by ``model``."""
    if mode == "json_schema":
        schema, strict = strict_schema(schema if schema is not None else model, constraints=constraints)
        return {
            "type": "json_schema",
            "json_schema": {"name": schema_name(model), "schema": schema, "strict": strict},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def parse_json(text: str | None) -> Any:
    """The JSON object in a model's answer; ``ValueError`` saying what was wrong if there is none.

    Tolerates a ```json fence, a ``<think>...</think>`` preamble and prose around the object.
    """
    if text is None or not text.strip():
        raise ValueError("the answer was empty; reply with one JSON object")
    body = _THINK.sub("", text).strip()
    fenced = _FENCE.search(body)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(body)
    decoder = json.JSONDecoder()
    first_error: json.JSONDecodeError | None = None
    for cand in candidates:
        try:
            return json.loads(cand)
        except json.JSONDecodeError as e:
            first_error = first_error or e
        start = cand.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(cand, start)
                return value
            except json.JSONDecodeError:
                start = cand.find("{", start + 1)
    snippet = " ".join(body.split())[:120]
    where = f" ({first_error.msg} at character {first_error.pos})" if first_error else ""
    raise ValueError(f"the answer is not valid JSON{where}: {snippet!r}; reply with one JSON object only")


def validation_message(err: BaseException, limit: int = 2500) -> str:
    """A compact, model-readable description of why an answer was rejected."""
    if isinstance(err, ValidationError):
        lines = []
        for e in err.errors(include_url=False)[:20]:
            loc = ".".join(str(p) for p in e.get("loc", ())) or "(root)"
            got = e.get("input")
            got_s = json.dumps(got, ensure_ascii=False, default=str) if got is not None else "null"
            if len(got_s) > 80:
                got_s = got_s[:77] + "..."
            lines.append(f"- {loc}: {e.get('msg')} (got {got_s})")
        more = err.error_count() - 20
        if more > 0:
            lines.append(f"- ... and {more} more errors")
        text = "\n".join(lines)
    else:
        text = str(err)
    return text if len(text) <= limit else text[: limit - 3] + "..."



def schema_violation(data: Any, sent_schema: dict[str, Any]) -> str | None:
    """Why ``data`` breaks the JSON schema that was sent as ``response_format`` (None if it fits).

    A server that really constrains decoding never returns such an answer (unless it was cut off
    at the token limit), so one that does has ignored the schema."""
    import jsonschema

    try:
        validator = jsonschema.Draft202012Validator(sent_schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    except (jsonschema.exceptions.SchemaError, RecursionError):  # a schema we built: not the server's fault
        return None
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "(answer)"
    return f"{where}: {error.message[:160]}"
