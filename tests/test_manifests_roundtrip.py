"""Property: canonical body -> YAML file -> load_manifests -> canonical body is the identity.

Bodies are generated within the rules of docs/api.md sections 2 and 5, canonicalised, written as
YAML (block style by ruamel.yaml, and JSON, which is flow-style YAML), loaded like any
manifest, and must come back byte for byte.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.manifests.load import load_manifests
from reconciler.planning.canonical import WEEKDAYS, canonical_json, canonicalize, fingerprint

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
FORMAT = "%Y-%m-%d %H:%M:%S"

names = st.text(
    alphabet=st.sampled_from("abcXYZ019_春节快乐"),
    min_size=1,
    max_size=20,
)
moments = st.integers(min_value=-400 * 24 * 3600, max_value=364 * 24 * 3600).map(
    lambda s: (NOW + timedelta(seconds=s)).replace(tzinfo=None)
)
# NEL, LS and PS are excluded: ruamel.yaml's emitter writes them raw inside quoted scalars,
# where YAML reads them as line breaks (again an emitter limitation, not a loader one).
characters = st.characters(codec="utf-8", exclude_characters="\x85\u2028\u2029")
texts = st.text(characters, max_size=30)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)


def case_variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.lower(), word.capitalize()])


@st.composite
def periodical(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(moments)
    end = start + timedelta(seconds=draw(st.integers(min_value=1, max_value=365 * 24 * 3600)))
    unit = draw(st.sampled_from(["day", "week", "month"]))
    spec: dict[str, Any] = {
        "start": start.strftime(FORMAT),
        "end": end.strftime(FORMAT),
        "time": draw(st.times()).strftime("%H:%M:%S"),
        "time_unit": draw(case_variants(unit)),
        "zone_type": draw(st.sampled_from([1, 2])),
    }
    if unit == "week":
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        spec["point"] = [draw(case_variants(d)) for d in days]
    elif unit == "month":
        days = draw(st.lists(st.integers(1, 31), min_size=1, max_size=5, unique=True))
        spec["point"] = [draw(st.sampled_from([d, f"{d:02d}"])) for d in days]
    elif draw(st.booleans()):
        spec["point"] = []
    if draw(st.booleans()):
        spec["frequency"] = draw(st.integers(1, 100))
    return {"periodical": spec}


triggers = st.one_of(
    st.fixed_dictionaries(
        {
            "single": st.fixed_dictionaries(
                {
                    "time": moments.map(lambda m: m.strftime(FORMAT)),
                    "zone_type": st.sampled_from([1, 2]),
                }
            )
        }
    ),
    periodical(),
    st.fixed_dictionaries(
        {
            "intelligent": st.fixed_dictionaries(
                {"backup_time": st.just("now") | moments.map(lambda m: m.strftime(FORMAT))}
            )
        }
    ),
)
tags = st.lists(st.text(alphabet="abc_-12", min_size=1, max_size=40), min_size=1, max_size=3)
audiences = st.fixed_dictionaries(
    {},
    optional={
        "registration_id": st.lists(
            st.text(characters, min_size=1, max_size=20), min_size=1, max_size=3
        ),
        "alias": tags,
        "tag": tags,
        "tag_and": tags,
        "tag_not": tags,
        "seg": st.fixed_dictionaries({"id": texts}),
    },
).filter(bool)
notifications = st.fixed_dictionaries(
    {"alert": texts},
    optional={
        "android": st.fixed_dictionaries(
            {},
            optional={
                "title": texts,
                "builder_id": st.integers(0, 10),
                "extras": json_objects,
                "intent": st.fixed_dictionaries({"url": texts}),
            },
        ),
        "ios": st.fixed_dictionaries(
            {},
            optional={
                "alert": texts
                | st.fixed_dictionaries({}, optional={"title": texts, "body": texts}),
                "badge": st.integers(0, 99) | st.just("+1"),
                "content-available": st.booleans(),
                "extras": json_objects,
            },
        ),
    },
)
messages = st.fixed_dictionaries(
    {"msg_content": texts | json_objects}, optional={"title": texts, "extras": json_objects}
)
options = st.fixed_dictionaries(
    {},
    optional={
        "time_to_live": st.integers(0, 864000),
        "apns_production": st.booleans(),
        "big_push_duration": st.integers(0, 1440),
        "third_party_channel": json_objects,
        "multi_language": json_objects,
        "cid": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    },
)


@st.composite
def push_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform": draw(
            st.sampled_from(["all", "android", "ios", "hmos"])
            | st.lists(st.sampled_from(["android", "ios", "hmos"]), min_size=1, unique=True)
        )
    }
    content = draw(st.sampled_from(["notification", "message", "both"]))
    if content in ("notification", "both"):
        body["notification"] = draw(notifications)
    if content in ("message", "both"):
        body["message"] = draw(messages)
    if draw(st.booleans()):
        body["options"] = draw(options)
    return body


schedules = st.fixed_dictionaries(
    {
        "name": names,
        "enabled": st.booleans(),
        "trigger": triggers,
        "push": st.fixed_dictionaries(
            {"to": st.just("all") | audiences, "body": push_bodies()},
            optional={
                "from": texts,
                "request_id": texts,
                "custom_args": texts | json_objects,
            },
        ),
    }
)


def write_yaml(body: dict[str, Any], *, flow: bool) -> str:
    if flow:
        # JSON is flow-style YAML (and how the vendor's examples look). ruamel.yaml's own flow
        # emitter writes some keys (":0", "?A") as invalid plain scalars, so it is not used.
        # YAML allows no raw DEL/C1 controls, so those (only possible inside strings) are
        # escaped; ensure_ascii would split astral characters into surrogate escapes.
        text = json.dumps(body, ensure_ascii=False, indent=1)
        return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m[0]):04x}", text) + "\n"
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    # No line folding: ruamel.yaml's emitter can fold a double-quoted scalar right after an
    # escape, which changes the text (an emitter bug, not a loader one).
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(body, stream)
    return stream.getvalue()


def roundtrip(body: dict[str, Any], *, flow: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "m.yaml")
        path.write_text(write_yaml(body, flow=flow), encoding="utf-8")
        result = load_manifests([path], now=NOW, tz=ZoneInfo("UTC"))
    assert result.errors == [], [str(p) for p in result.errors]
    (manifest,) = result.manifests
    return manifest.body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules, st.booleans())
def test_canonical_body_survives_yaml_and_loading_unchanged(
    raw: dict[str, Any], flow: bool
) -> None:
    """canonical body -> YAML -> load -> canonical body is the identity (and so is the
    fingerprint)."""
    body = canonicalize(raw)
    loaded = roundtrip(body, flow=flow)
    assert canonical_json(loaded) == canonical_json(body)
    assert fingerprint(loaded) == fingerprint(body)
