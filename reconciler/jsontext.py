"""Whether decoded JSON holds a lone UTF-16 surrogate: text that no file or terminal can hold.

One job. JSON may spell a character outside the Basic Multilingual Plane as a pair of ``\\u``
escapes (``\\ud83d\\ude00``); ``json.loads`` joins a pair into one character, but takes a lone
half (``"x\\ud800"``) as it is. Such a string cannot be encoded as UTF-8: hashing a body that
holds one (fingerprints, plan checksums), or writing it to a state or plan file, raises
``UnicodeEncodeError`` deep inside a command, after its requests. Every JSON input (server
answers, the state file, plan files) is checked where it is parsed, and refused there.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A \u escape of a surrogate makes one; so do the bytes UTF-8 would give a surrogate (ED A0..BF
# xx), which are not UTF-8, but ``json.loads`` decodes bytes with "surrogatepass".
_ESCAPED = re.compile(r"\\u[dD][89a-fA-F]")
_ESCAPED_BYTES = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def holds_lone_surrogate(raw: str | bytes, data: Any) -> bool:
    """Whether ``data``, decoded from ``raw``, has a lone surrogate in a key or a text.

    The raw text is searched first (a pattern, about a millisecond per megabyte): only when it
    escapes a surrogate at all is the decoded value encoded to find out.
    """
    escaped = _ESCAPED_BYTES.search(raw) if isinstance(raw, bytes) else _ESCAPED.search(raw)
    if escaped is None:
        return False
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError, RecursionError):
        return False  # not JSON data (a caller's own check reports that)
    return False
