"""How deep a JSON text nests, measured before it is parsed.

Python's json parser and encoder recurse once per level: a document nested a few thousand levels
deep raises RecursionError (a 500) wherever it is parsed, validated, serialised for an RPC or shown.
JSON from outside (request bodies, FHIR JSON documents) is measured first, without recursion and
without building anything, and refused as bad input when it nests deeper than MAX_JSON_DEPTH: far
more than any FHIR resource or API body needs, far less than what the parsers survive.
"""

from __future__ import annotations

import re
from itertools import accumulate

MAX_JSON_DEPTH = 100

# A string once its escaped backslashes and quotes are gone; a string never closed runs to the end.
_STRINGS = re.compile(rb'"[^"]*"?')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar); brackets inside strings
    do not count. Meant for JSON; for other text, a bound of what a JSON parser would nest."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRINGS.sub(b"", unescaped).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    return json_depth(text) > limit


def too_deep_reason(limit: int = MAX_JSON_DEPTH) -> str:
    return f"is JSON nested deeper than {limit} levels"
