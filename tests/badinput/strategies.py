"""Hypothesis strategies that only ever produce bad input (each says why it is bad).

Every strategy draws ``(why, content)`` where ``content`` must be refused: a value of a type the
field cannot take, a missing required field, an unknown key, a forbidden character, a broken
byte sequence, nesting past the limits... Nothing here may produce a valid input by accident:
the tests assert exit 1 for every draw, so a lax generator would show up as a failing test.
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

from .helpers import VALID_MANIFEST
from .server import TASK_ID, Answer, page_of, task_body

Draw = Callable[..., Any]

# -- values -----------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
NOT_STR = VALUES.filter(lambda v: not isinstance(v, str))
NOT_BOOL = VALUES.filter(lambda v: not isinstance(v, bool))
NOT_DICT = VALUES.filter(lambda v: not isinstance(v, dict))
NOT_INT = VALUES.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))
PRESENT = VALUES.filter(lambda v: v is not None)

_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_NAME_OK = re.compile(
    r"[A-Za-z0-9_ \-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)
# Characters a schedule name may not hold (docs/api.md 2: letters, digits, _ and Chinese).
FORBIDDEN_NAME_CHARS = st.one_of(
    st.sampled_from(
        [
            "\u200e",  # left-to-right mark
            "\u200f",  # right-to-left mark
            "\u202e",  # right-to-left override
            "\u2066",  # left-to-right isolate
            "\u200d",  # zero-width joiner
            "\u0301",  # combining acute accent
            "\u0336",  # combining long stroke overlay
            "\U0001f600",  # emoji
            "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family emoji (ZWJ sequence)
            "\x00",
            "\x1b",
            "\t",
            "/",
            ".",
            "!",
            "é",
            "Ж",
            "ש",
        ]
    ),
    st.characters(exclude_categories=("Cs",)).filter(lambda c: not _NAME_OK.fullmatch(c)),
)

# -- manifests --------------------------------------------------------------------------------

VALID_BODY: dict[str, Any] = {
    "name": "weekly_digest",
    "enabled": True,
    "trigger": {"single": {"time": "2027-03-01 10:00:00", "zone_type": 1}},
    "push": {
        "from": "push",
        "to": "all",
        "body": {"platform": "all", "notification": {"alert": "Hello"}},
    },
}

_PLATFORMS = {"all", "android", "ios", "hmos"}
# The valid manifest with an (open) ``extras`` mapping at its end, at indent 10.
EXTRAS_PREFIX = VALID_MANIFEST.encode() + b"      android:\n        extras:\n"


def _bad_name() -> st.SearchStrategy[Any]:
    with_forbidden = st.tuples(
        st.text("abcXYZ_09", max_size=8), FORBIDDEN_NAME_CHARS, st.text("abc_", max_size=8)
    ).map("".join)
    too_long = st.integers(min_value=256, max_value=2000).map(lambda n: "a" * n)
    too_long_cjk = st.integers(min_value=86, max_value=400).map(lambda n: "\u4e2d" * n)
    return st.one_of(NOT_STR, with_forbidden, too_long, too_long_cjk, st.just(""))


# field path -> values that field can never take
WRONG_VALUES: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("name",): _bad_name(),
    ("enabled",): NOT_BOOL,
    ("trigger",): st.one_of(
        NOT_DICT,
        st.just({}),
        st.just({"single": {"time": "2027-03-01 10:00:00", "zone_type": 1}, "intelligent": {}}),
    ),
    ("trigger", "single"): NOT_DICT,
    ("trigger", "single", "time"): st.one_of(
        NOT_STR, TEXT.filter(lambda s: not _TIME.fullmatch(s))
    ),
    ("trigger", "single", "zone_type"): VALUES.filter(
        lambda v: isinstance(v, bool) or v not in (1, 2) or not isinstance(v, int)
    ),
    ("push",): NOT_DICT,
    ("push", "to"): VALUES.filter(lambda v: v != "all" and not isinstance(v, dict)),
    ("push", "body"): NOT_DICT,
    ("push", "body", "platform"): st.one_of(
        VALUES.filter(lambda v: not isinstance(v, str | list)),
        TEXT.filter(lambda s: s.lower() not in _PLATFORMS),
    ),
    ("push", "body", "notification"): NOT_DICT,
    # (text or an object: the SDKs take both, docs/api.md 5 and push_models.TextOrObject)
    ("push", "body", "notification", "alert"): NOT_STR.filter(
        lambda v: v is not None and not isinstance(v, dict)
    ),
    ("push", "from"): NOT_STR.filter(lambda v: v is not None),
}
REQUIRED: list[tuple[str, ...]] = [
    ("name",),
    ("enabled",),
    ("trigger",),
    ("push",),
    ("trigger", "single"),
    ("trigger", "single", "time"),
    ("trigger", "single", "zone_type"),
    ("push", "to"),
    ("push", "body"),
    ("push", "body", "platform"),
    ("push", "body", "notification"),
]
MAPPINGS: list[tuple[str, ...]] = [
    (),
    ("trigger",),
    ("trigger", "single"),
    ("push",),
    ("push", "body"),
    ("push", "body", "notification"),
]


def dump_yaml(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _at(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        data = data[key]
    return data


@st.composite
def wrong_type(draw: Draw) -> tuple[str, bytes]:
    path = draw(st.sampled_from(sorted(WRONG_VALUES)))
    body = copy.deepcopy(VALID_BODY)
    value = draw(WRONG_VALUES[path])
    _at(body, path[:-1])[path[-1]] = value
    return f"{'.'.join(path)} = {value!r:.60}", dump_yaml(body).encode()


@st.composite
def too_long_text(draw: Draw) -> tuple[str, bytes]:
    """An alert over 4000 bytes (docs/api.md 5), in characters of 1 to 4 bytes."""
    char = draw(st.sampled_from(["x", "é", "中", "\U0001f600"]))
    count = draw(st.integers(min_value=4001 // len(char.encode()) + 1, max_value=6000))
    body = copy.deepcopy(VALID_BODY)
    body["push"]["body"]["notification"]["alert"] = char * count
    return f"alert of {count} x {char!r}", dump_yaml(body).encode()


@st.composite
def missing_required(draw: Draw) -> tuple[str, bytes]:
    path = draw(st.sampled_from(REQUIRED))
    body = copy.deepcopy(VALID_BODY)
    del _at(body, path[:-1])[path[-1]]
    return f"without {'.'.join(path)}", dump_yaml(body).encode()


@st.composite
def unknown_key(draw: Draw) -> tuple[str, bytes]:
    where = draw(st.sampled_from(MAPPINGS))
    key = "zz" + draw(st.from_regex(r"[a-z_]{0,10}", fullmatch=True))
    body = copy.deepcopy(VALID_BODY)
    _at(body, where)[key] = draw(VALUES)
    return f"unknown key {key!r} in {'.'.join(where) or 'the root'}", dump_yaml(body).encode()


@st.composite
def broken_bytes(draw: Draw) -> tuple[str, bytes]:
    raw = dump_yaml(VALID_BODY).encode()
    junk = draw(
        st.sampled_from(
            [b"\x00", b"\xff", b"\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80"]
        )
    )
    at = draw(st.integers(0, len(raw)))
    return f"{junk!r} at byte {at}", raw[:at] + junk + raw[at:]


_SCALAR_LINE = re.compile(rb"^( *)([a-z_]+): (\S.*)$", re.M)


@st.composite
def broken_syntax(draw: Draw) -> tuple[str, bytes]:
    raw = dump_yaml(VALID_BODY).encode()
    lines = list(_SCALAR_LINE.finditer(raw))
    match = draw(st.sampled_from(lines))
    how = draw(
        st.sampled_from(
            ["unclosed-flow", "unclosed-quote", "undefined-alias", "tab-indent", "duplicate-key"]
        )
    )
    indent, key, value = match.group(1), match.group(2), match.group(3)
    if how == "unclosed-flow":
        line = indent + key + b": [" + value
    elif how == "unclosed-quote":
        line = indent + key + b': "' + value
    elif how == "undefined-alias":
        line = indent + key + b": *nowhere"
    elif how == "tab-indent":
        line = b"\t" + indent + key + b": " + value
    else:
        line = match.group(0) + b"\n" + indent + key + b": " + value
    return f"{how} at {key.decode()}", raw[: match.start()] + line + raw[match.end() :]


@st.composite
def too_deep(draw: Draw) -> tuple[str, bytes]:
    depth = draw(st.integers(min_value=101, max_value=20_000))
    style = draw(st.sampled_from(["flow-lists", "flow-maps", "block-sequences", "mixed-flow"]))
    if style == "flow-lists":
        nested = b"[" * depth + b"1" + b"]" * depth
    elif style == "flow-maps":
        nested = b"{a: " * depth + b"1" + b"}" * depth
    elif style == "mixed-flow":
        nested = b"[{a: " * (depth // 2 + 1) + b"1" + b"}]" * (depth // 2 + 1)
    else:
        nested = b""
    if style == "block-sequences":
        nested = b"\n" + b" " * 12 + b"- " * depth + b"x"
    # In extras (passed through untouched, any JSON allowed): only the depth can be wrong.
    text = EXTRAS_PREFIX + b"          deep: " + nested + b"\n"
    return f"{style} {depth} deep in extras", text


@st.composite
def alias_bomb(draw: Draw) -> tuple[str, bytes]:
    width = draw(st.integers(min_value=3, max_value=12))
    levels = 1
    while width**levels <= 250_000:
        levels += 1
    levels += draw(st.integers(min_value=0, max_value=2))
    lines = ['l0: &l0 "lol"']
    for n in range(1, levels + 1):
        lines.append(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]")
    text = EXTRAS_PREFIX + "".join(f"          {x}\n" for x in lines).encode()
    return f"alias bomb {width}^{levels} in extras", text


@st.composite
def bad_root(draw: Draw) -> tuple[str, bytes]:
    value = draw(st.one_of(st.lists(VALUES, max_size=3), SCALARS.filter(lambda v: v is not None)))
    return f"root {value!r:.40}", dump_yaml(value).encode()


@st.composite
def tag_mismatch(draw: Draw) -> tuple[str, bytes]:
    # (not !!null: it turns any text into null, and an absent alert is fine)
    tag = draw(st.sampled_from(["!!int", "!!float", "!!bool", "!!timestamp"]))
    word = draw(st.from_regex(r"[a-z]{2,8}", fullmatch=True).filter(lambda w: w not in _YAML_WORDS))
    raw = dump_yaml(VALID_BODY).encode()
    target = draw(st.sampled_from([b"zone_type: 1", b"enabled: true", b"alert: Hello"]))
    key = target.split(b":")[0]
    return f"{tag} {word} at {key.decode()}", raw.replace(
        target, key + b": " + tag.encode() + b" " + word.encode()
    )


_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "nan", "inf", "y", "n"}


@st.composite
def too_big(draw: Draw) -> tuple[str, bytes]:
    size = draw(st.integers(min_value=1024 * 1024 + 1, max_value=3 * 1024 * 1024))
    raw = dump_yaml(VALID_BODY).encode()
    return f"{size} bytes", raw + b"#" + b"x" * (size - len(raw)) + b"\n"


BAD_MANIFESTS = st.one_of(
    wrong_type(),
    too_long_text(),
    missing_required(),
    unknown_key(),
    broken_bytes(),
    broken_syntax(),
    too_deep(),
    alias_bomb(),
    bad_root(),
    tag_mismatch(),
    too_big(),
)

# -- state files ------------------------------------------------------------------------------

# field -> values pydantic (lax, as the state model is) can never coerce into it
STATE_WRONG: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("version",): VALUES.filter(lambda v: v != 1 or isinstance(v, bool) or not isinstance(v, int)),
    ("lineage",): NOT_STR,
    ("serial",): VALUES.filter(
        lambda v: (
            isinstance(v, list | dict)
            or (isinstance(v, str) and not v.strip().lstrip("+-").isdigit())
        )
    ),
    ("binding",): VALUES.filter(lambda v: v is not None and not isinstance(v, str)),
    ("entries",): VALUES.filter(lambda v: not isinstance(v, dict)),
    ("pending",): VALUES.filter(lambda v: not isinstance(v, dict)),
    ("entries", "weekly_digest"): NOT_DICT,
    ("entries", "weekly_digest", "schedule_id"): NOT_STR,
    ("entries", "weekly_digest", "fingerprint"): NOT_STR,
    ("entries", "weekly_digest", "created_at"): st.one_of(
        st.lists(VALUES, max_size=2), st.dictionaries(TEXT, VALUES, max_size=2), st.just("soon")
    ),
    ("entries", "weekly_digest", "protected"): st.one_of(
        st.lists(VALUES, max_size=2), st.just("maybe"), st.just(2), st.just(None)
    ),
}


@st.composite
def bad_state(draw: Draw, valid: bytes) -> tuple[str, bytes]:
    how = draw(
        st.sampled_from(
            ["truncate", "wrong-field", "unknown-key", "not-object", "binary", "json-of-anything"]
        )
    )
    if how == "truncate":
        stripped = valid.rstrip()
        at = draw(st.integers(0, len(stripped) - 1))
        return f"truncated at byte {at}", stripped[:at]
    data = json.loads(valid)
    if how == "wrong-field":
        path = draw(st.sampled_from(sorted(STATE_WRONG)))
        value = draw(STATE_WRONG[path])
        _at(data, path[:-1])[path[-1]] = value
        return f"{'.'.join(path)} = {value!r:.60}", json.dumps(data).encode()
    if how == "unknown-key":
        where = draw(st.sampled_from([(), ("entries", "weekly_digest")]))
        key = "zz" + draw(st.from_regex(r"[a-z_]{0,8}", fullmatch=True))
        _at(data, where)[key] = draw(VALUES)
        return f"unknown key {key!r}", json.dumps(data).encode()
    if how == "not-object":
        value = draw(VALUES.filter(lambda v: not isinstance(v, dict)))
        return f"JSON {value!r:.40}", json.dumps(value).encode()
    if how == "json-of-anything":
        value = draw(
            st.dictionaries(TEXT, VALUES, max_size=4).filter(lambda d: d.get("version") != 1)
        )
        return f"object {value!r:.40}", json.dumps(value).encode()
    garbage = draw(st.binary(min_size=0, max_size=200))
    return f"binary {garbage[:10]!r}", b"\xff" + garbage


# -- server answers ---------------------------------------------------------------------------


@st.composite
def bad_page(draw: Draw) -> tuple[str, Answer]:
    data = page_of(("remote_task", TASK_ID))
    how = draw(st.sampled_from(["field", "row-field", "drop", "not-object", "truncate", "bytes"]))
    if how == "field":
        key = draw(st.sampled_from(["total_count", "total_pages", "schedules"]))
        wrong = {
            "total_count": VALUES.filter(
                lambda v: isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 100_000
            ),
            "total_pages": NOT_INT.filter(lambda v: v is not None) | st.integers(max_value=-1),
            "schedules": VALUES.filter(lambda v: v is not None and not isinstance(v, list))
            | st.lists(NOT_DICT, min_size=1, max_size=3),
        }[key]
        value = draw(wrong)
        data[key] = value
        return f"page {key} = {value!r:.50}", Answer.json(data)
    if how == "row-field":
        key = draw(st.sampled_from(["schedule_id", "name", "enabled"]))
        wrong = {
            "schedule_id": NOT_STR | st.sampled_from(["", "a/b", "x?y", "#"]),
            "name": NOT_STR,
            "enabled": NOT_BOOL,
        }[key]
        value = draw(wrong)
        data["schedules"][0][key] = value
        return f"row {key} = {value!r:.50}", Answer.json(data)
    if how == "drop":
        key = draw(
            st.sampled_from(["total_count", "total_pages", "r:schedule_id", "r:name", "r:enabled"])
        )
        if key.startswith("r:"):
            del data["schedules"][0][key[2:]]
        else:
            del data[key]
        return f"page without {key}", Answer.json(data)
    if how == "not-object":
        value = draw(VALUES.filter(lambda v: not isinstance(v, dict)))
        return f"page {value!r:.50}", Answer.json(value)
    raw = json.dumps(data).encode()
    if how == "truncate":
        at = draw(st.integers(0, len(raw) - 1))
        return f"page truncated at {at}", Answer(200, raw[:at])
    at = draw(st.integers(0, len(raw)))
    return f"page with \\xff at {at}", Answer(200, raw[:at] + b"\xff" + raw[at:])


@st.composite
def bad_detail(draw: Draw) -> tuple[str, Answer]:
    body = task_body("remote_task")
    how = draw(
        st.sampled_from(["field", "drop", "not-schedule", "list-length", "truncate", "trigger"])
    )
    if how == "field":
        key = draw(st.sampled_from(["name", "enabled", "trigger", "push", "schedule_id"]))
        wrong = {
            "name": NOT_STR,
            "enabled": NOT_BOOL,
            "trigger": NOT_DICT,
            "push": NOT_DICT,
            "schedule_id": TEXT.filter(lambda s: s != TASK_ID),
        }[key]
        value = draw(wrong)
        body[key] = value
        return f"detail {key} = {value!r:.50}", Answer.json([body])
    if how == "drop":
        key = draw(st.sampled_from(["name", "enabled", "trigger", "push"]))
        del body[key]
        return f"detail without {key}", Answer.json([body])
    if how == "trigger":
        kinds = draw(
            st.one_of(
                st.just({}),
                st.dictionaries(
                    st.sampled_from(["single", "periodical", "intelligent"]), PRESENT, min_size=2
                ),
                st.dictionaries(
                    st.sampled_from(["single", "periodical", "intelligent"]),
                    NOT_DICT.filter(lambda v: v is not None),
                    min_size=1,
                    max_size=1,
                ),
                st.dictionaries(
                    TEXT.filter(lambda k: k not in ("single", "periodical", "intelligent")),
                    VALUES,
                    max_size=2,
                ),
            )
        )
        body["trigger"] = kinds
        return f"detail trigger {kinds!r:.50}", Answer.json([body])
    if how == "not-schedule":
        value = draw(VALUES.filter(lambda v: not isinstance(v, dict | list)))
        return f"detail {value!r:.50}", Answer.json(value)
    if how == "list-length":
        n = draw(st.sampled_from([0, 2, 3]))
        return f"detail list of {n}", Answer.json([body] * n)
    raw = json.dumps([body]).encode()
    at = draw(st.integers(0, len(raw) - 1))
    return f"detail truncated at {at}", Answer(200, raw[:at])


# -- a rich manifest, for fuzzing any field --------------------------------------------------

RICH_BODY: dict[str, Any] = {
    "name": "rich_digest",
    "enabled": True,
    "trigger": {
        "periodical": {
            "start": "2027-01-04 00:00:00",
            "end": "2027-12-27 00:00:00",
            "time": "09:00:00",
            "time_unit": "week",
            "point": ["MON", "FRI"],
            "frequency": 2,
            "zone_type": 1,
        }
    },
    "push": {
        "from": "push",
        "to": {"tag": ["beta", "vip"], "tag_not": ["churned"]},
        "body": {
            "platform": ["android", "ios"],
            "notification": {
                "alert": "Your digest",
                "android": {
                    "title": "Digest",
                    "builder_id": 1,
                    "extras": {"deep_link": "app://digest", "n": [1, 2, {"x": None}]},
                    "intent": {"url": "app://digest"},
                    "badge_add_num": 1,
                },
                "ios": {
                    "alert": {"title": "Digest", "subtitle": "weekly", "body": "Read it"},
                    "sound": "default",
                    "badge": "+1",
                    "extras": {"deep_link": "app://digest"},
                },
            },
            "options": {
                "time_to_live": 86400,
                "apns_production": False,
                "cid": "weekly-digest_1",
                "big_push_duration": 60,
                "third_party_channel": {"xiaomi": {"distribution": "secondary_push"}},
            },
        },
        "request_id": "req-1",
        "custom_args": {"campaign": "digest"},
    },
    "lifecycle": {"prevent_destroy": True},
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            out.extend(_paths(item, (*prefix, n)))
    return out


RICH_PATHS = _paths(RICH_BODY)


@st.composite
def rich_mutation(draw: Draw) -> tuple[str, bytes]:
    """The rich manifest with one field (anywhere) replaced by anything, or removed."""
    body = copy.deepcopy(RICH_BODY)
    path = draw(st.sampled_from(RICH_PATHS))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()):
        value = draw(VALUES)
        parent[path[-1]] = value
        why = f"{path} = {value!r:.60}"
    else:
        del parent[path[-1]]
        why = f"without {path}"
    return why, dump_yaml(body).encode()
