"""A TOML writer for the catalog file, which holds only strings, numbers, booleans, lists and dicts.

The standard library reads TOML (`tomllib`) but does not write it, and the catalog's values are
simple enough not to need another dependency.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["format_key", "format_value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def format_string(text: str) -> str:
    """Return the text as a TOML basic string, with quotes, backslashes and controls escaped."""
    parts = []
    for character in text:
        if character in _ESCAPES:
            parts.append(_ESCAPES[character])
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            parts.append(f"\\u{ord(character):04X}")
        else:
            parts.append(character)
    return '"' + "".join(parts) + '"'


def format_key(key: str) -> str:
    """Return the key bare when TOML allows it, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else format_string(key)


def format_value(value: Any) -> str:
    """Return a value as TOML: lists become arrays and dicts become inline tables.

    Raises:
        TypeError: the value, or a value inside it, has no TOML form (None among them).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{format_key(str(key))} = {format_value(item)}" for key, item in value.items()
        )
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"{type(value).__name__} value {value!r} has no TOML form")
