"""Request parsing against the OpenAPI schemas: one schema documents a field and validates it.

Supports the JSON-Schema subset the spec uses (type, enum, minimum/maximum, multipleOf,
min/maxLength, min/maxItems, items, properties, required, additionalProperties: false,
default). Every failure is an :class:`InvalidRequest` whose message names the field.
"""

from __future__ import annotations

import json
import math
import re

# ASCII digits only: `\d`, int(), float() and str.isdigit() also take other scripts' digits ("١" is 1)
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,18}")
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BLANK = " \t"  # what may surround a value (ASCII); str.strip() alone would also take U+2003 and the like


class InvalidRequest(ValueError):
    """A malformed or invalid request: answered 400 with this message."""


def _show(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate(value, schema: dict, where: str):
    """`value` checked against `schema`; returns it with object defaults filled in."""
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{where}: must be an integer, got {_show(value)}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidRequest(f"{where}: must be a number, got {_show(value)}")
    elif kind == "string" and not isinstance(value, str):
        raise InvalidRequest(f"{where}: must be a string, got {_show(value)}")
    elif kind == "array" and not isinstance(value, list):
        raise InvalidRequest(f"{where}: must be an array, got {_show(value)}")
    elif kind == "object" and not isinstance(value, dict):
        raise InvalidRequest(f"{where}: must be an object, got {_show(value)}")

    if "enum" in schema and value not in schema["enum"]:
        raise InvalidRequest(f"{where}: must be one of {schema['enum']}, got {_show(value)}")
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if low is not None and high is not None else \
                (f">= {low}" if low is not None else f"<= {high}")
            raise InvalidRequest(f"{where}: must be {bounds}, got {_show(value)}")
        step = schema.get("multipleOf")
        if step is not None and not (value / step).is_integer():
            raise InvalidRequest(f"{where}: must be a multiple of {step}, got {_show(value)}")
    elif kind == "string":
        if len(value) < schema.get("minLength", 0):
            raise InvalidRequest(f"{where}: must have at least {schema['minLength']} character(s)")
        if len(value) > schema.get("maxLength", math.inf):
            raise InvalidRequest(f"{where}: must have at most {schema['maxLength']} characters")
    elif kind == "array":
        if len(value) < schema.get("minItems", 0):
            raise InvalidRequest(f"{where}: must have at least {schema['minItems']} item(s)")
        if len(value) > schema.get("maxItems", math.inf):
            raise InvalidRequest(f"{where}: must have at most {schema['maxItems']} items, got {len(value)}")
        if "items" in schema:
            value = [validate(item, schema["items"], f"{where}[{i}]") for i, item in enumerate(value)]
    elif kind == "object":
        value = _validate_object(value, schema, where)
    return value


def _validate_object(value: dict, schema: dict, where: str) -> dict:
    prefix = f"{where}." if where else ""
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise InvalidRequest(f"{prefix}{name}: is required")
    if schema.get("additionalProperties") is False:
        unknown = sorted(set(value) - set(properties))
        if unknown:
            raise InvalidRequest(f"{prefix}{unknown[0]}: unknown field; known fields: {sorted(properties)}")
    out = {}
    for name, sub in properties.items():
        if name in value:
            out[name] = validate(value[name], sub, f"{prefix}{name}")
        elif "default" in sub:
            out[name] = sub["default"]
    return out


def parse_json_body(raw: bytes, schema: dict) -> dict:
    """The request body decoded as strict JSON (no NaN/Infinity) and validated."""
    if not raw.strip():
        raise InvalidRequest("request body: is required (a JSON object)")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except InvalidRequest:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, too many digits, nesting
        raise InvalidRequest(f"request body: not valid JSON ({str(exc)[:120]})") from None
    return validate(value, schema, "")


def _reject_constant(name: str):
    raise InvalidRequest(f"request body: {name} is not allowed in JSON")


def parse_parameters(parameters: list[dict], source: dict[str, list[str]], location: str) -> dict:
    """Query or path parameters (strings) coerced to their schema types and validated.

    `source` maps a name to its values; a parameter given twice or not in the spec is refused.
    An array parameter is one comma-separated value.
    """
    declared = {p["name"]: p for p in parameters if p["in"] == location}
    unknown = sorted(set(source) - set(declared))
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: unknown {location} parameter; known: {sorted(declared)}")
    out = {}
    for name, param in declared.items():
        schema = param["schema"]
        values = source.get(name, [])
        if len(values) > 1:
            raise InvalidRequest(f"{name}: give it once, got {len(values)} values")
        if not values:
            if param.get("required"):
                raise InvalidRequest(f"{name}: is required")
            if "default" in schema:
                out[name] = schema["default"]
            continue
        out[name] = validate(_coerce(values[0], schema, name), schema, name)
    return out


def _coerce(text: str, schema: dict, name: str):
    kind = schema.get("type")
    if kind == "integer":
        if not _INT_TEXT.fullmatch(text.strip(_BLANK)):
            raise InvalidRequest(f"{name}: must be an integer, got {_show(text)}")
        return int(text.strip(_BLANK))
    if kind == "number":
        if not _NUMBER_TEXT.fullmatch(text.strip(_BLANK)):
            raise InvalidRequest(f"{name}: must be a number, got {_show(text)}")
        return float(text.strip(_BLANK))
    if kind == "array":  # style=form, explode=false: one comma-separated value; empty means none
        items = [item.strip(_BLANK) for item in text.split(",")] if text.strip(_BLANK) else []
        return [_coerce(item, schema.get("items", {}), f"{name}[{i}]") for i, item in enumerate(items)]
    return text
