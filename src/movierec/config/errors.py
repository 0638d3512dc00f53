"""One-line messages for a bad configuration: the key, the value and what the schema expects.

OmegaConf's and Hydra's own messages run over several lines (full_key, object_type, the config
search path) and, raised inside a Hydra app, come with a traceback; these say the same in one line,
e.g. ``model.embedding_dim='ten': expected an int``.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from typing import Any

from omegaconf.errors import ConfigKeyError, OmegaConfBaseException


class ConfigError(ValueError):
    """The configuration does not fit the schema (type, unknown key, range); one line."""


def schema_type(root: type, dotted: str) -> Any:
    """The annotated type of `dotted` in dataclass `root` (None for an unknown key)."""
    node: Any = root
    for part in dotted.split("."):
        node = _unwrap_optional(node)
        if not dataclasses.is_dataclass(node):
            return None
        hints = typing.get_type_hints(node)
        if part not in hints:
            return None
        node = hints[part]
    return node


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def describe(tp: Any) -> str:
    """`int` -> "an int", an enum -> "one of a, b", Optional[str] -> "a str or null"."""
    if tp is None:
        return "a known key"
    optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)
    inner = _unwrap_optional(tp)
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        text = "one of " + ", ".join(str(m.value) for m in inner)
    elif dataclasses.is_dataclass(inner):
        text = f"a mapping of {getattr(inner, '__name__', 'its')}'s keys"
    else:
        name = getattr(inner, "__name__", str(inner))
        text = f"an {name}" if name[:1] in "aeiou" else f"a {name}"
    return f"{text} or null" if optional else text


def sibling_keys(root: type, dotted: str) -> list[str]:
    parent = dotted.rsplit(".", 1)[0] if "." in dotted else ""
    node = _unwrap_optional(schema_type(root, parent)) if parent else root
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []


def schema_error(exc: OmegaConfBaseException, root: type) -> ConfigError:
    """An OmegaConf error from merging a config into schema `root`, as one line."""
    key = str(getattr(exc, "full_key", "") or getattr(exc, "key", "") or "?")
    if isinstance(exc, ConfigKeyError) or schema_type(root, key) is None:
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], sibling_keys(root, key), n=1)
        hint = f" (did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}?)" if close else ""
        return ConfigError(f"{key}: no such config key{hint}")
    value = getattr(exc, "value", None)
    return ConfigError(f"{key}={value!r}: expected {describe(schema_type(root, key))}")


def one_line(message: str) -> str:
    """Hydra's multi-line message (overrides, options, search path) on one line, without the details."""
    kept, options = [], []
    for raw in str(message).splitlines():
        line = raw.strip()
        if not line or line.startswith(("full_key:", "object_type=", "reference_type=", "provider=",
                                        "Config search path", "Set the environment variable HYDRA_FULL_ERROR")):
            continue
        if raw.startswith("\t"):
            options.append(line)
        else:
            kept.append(line.rstrip(":") if line.startswith("Available options") else line)
    text = ""
    for line in kept:
        text += (line if not text else (" " if text.endswith((".", ":", ";")) else "; ") + line)
    return f"{text}: {', '.join(options)}" if options else text


def with_suggestion(message: str, root: type) -> str:
    """Hydra's "Could not override 'a.b'" for an unknown key, plus the schema's nearest key."""
    import re

    found = re.search(r"Could not override '([^']+)'", message)
    if not found or schema_type(root, found.group(1)) is not None:
        return message
    key = found.group(1)
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], sibling_keys(root, key), n=1)
    return f"{message} (no such config key; did you mean {key.rsplit('.', 1)[0]}.{close[0]}?)" if close and "." in key \
        else message
