"""Properties over generated input: no request yields a 500, every refusal is the documented
envelope, and the emulator's name rule is the manifests' rule.

Each property runs over real HTTP and in-process (the ``api`` fixture). The emulator is reset
at the start of every example, so examples do not see each other's tasks.
"""

from __future__ import annotations

import copy
import string
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.emulator import Emulator
from reconciler.manifests.models import Schedule
from tests.emulator.helpers import START, intelligent, periodical, single

JSON_UTF8 = "application/json; charset=utf-8"
PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)

TEMPLATES = [single(), periodical(), periodical(time_unit="month", point=["01"]), intelligent()]
BATCH = {
    "requests": [
        {
            "target": "t1",
            "platform": "android",
            "notification": {"android": {"alert": "Hi", "title": "T"}},
            "options": {"time_to_live": 60, "cid": "c1"},
            "custom_args": {"k": "v"},
        },
        {"target": "t2", "platform": "ios", "message": {"msg_content": "x"}},
    ]
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (keys and list indexes), the root excluded."""
    out: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


@st.composite
def mutated(draw: st.DrawFn, templates: list[Any]) -> Any:
    """A valid body with one place replaced by arbitrary JSON, or removed, or the whole body."""
    body = copy.deepcopy(draw(st.sampled_from(templates)))
    paths = _paths(body)
    path = draw(st.sampled_from(paths)) if paths and draw(st.booleans()) else ()
    if not path:
        return draw(json_values)
    node = body
    for key in path[:-1]:
        node = node[key]
    if draw(st.booleans()):
        node[path[-1]] = draw(json_values)
    elif isinstance(node, dict):
        del node[path[-1]]
    return body


def assert_documented(response: httpx.Response) -> None:
    """Never a 500; a refusal is the vendor envelope with charset; a success is JSON."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == JSON_UTF8, response.headers
        error = response.json()["error"]
        assert type(error["code"]) is int
        assert isinstance(error["message"], str)
        assert error["message"]
    elif response.content:
        response.json()


def fresh(emulator: Emulator) -> None:
    emulator.reset()
    emulator.set_time(START)


@PROPERTY
@given(body=mutated(TEMPLATES))
def test_any_schedule_body_gets_a_documented_answer(
    api: httpx.Client, emulator: Emulator, body: Any
) -> None:
    """Create and update with a body that is valid but for one arbitrary place: the answer is a
    success or the documented envelope, never a 500, and what was stored reads back."""
    fresh(emulator)
    sid = api.post("/v4/schedules", json=single()).json()["schedule_id"]
    for response in (
        api.post("/v4/schedules", json=body),
        api.put(f"/v4/schedules/{sid}", json=body),
    ):
        assert_documented(response)
    assert_documented(api.get("/v4/schedules"))
    assert_documented(api.get(f"/v4/schedules/{sid}"))


@PROPERTY
@given(body=mutated([BATCH]))
def test_any_batch_body_gets_a_documented_answer(
    api: httpx.Client, emulator: Emulator, body: Any
) -> None:
    """A batch that is valid but for one arbitrary place: results or the envelope, never 500."""
    fresh(emulator)
    for path in ("/v4/batch/push/regid", "/v4/batch/push/alias"):
        assert_documented(api.post(path, json=body))


@PROPERTY
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode()))
def test_any_bytes_get_a_documented_answer(
    api: httpx.Client, emulator: Emulator, raw: bytes
) -> None:
    """Arbitrary bytes as the body of every write endpoint: the envelope, never a 500."""
    fresh(emulator)
    sid = api.post("/v4/schedules", json=single()).json()["schedule_id"]
    assert_documented(api.post("/v4/schedules", content=raw))
    assert_documented(api.put(f"/v4/schedules/{sid}", content=raw))
    assert_documented(api.post("/v4/batch/push/regid", content=raw))


@PROPERTY
@given(query=st.binary(max_size=60), page=st.text(max_size=12))
def test_any_query_string_gets_a_documented_answer(
    api: httpx.Client, emulator: Emulator, query: bytes, page: str
) -> None:
    """Arbitrary query strings (raw, and as a page value) on the list: never a 500."""
    fresh(emulator)
    assert_documented(api.get("/v4/schedules?" + quote_from_bytes(query, safe="=&;%+")))
    assert_documented(api.get("/v4/schedules", params={"page": page}))
    assert_documented(api.get("/v4/schedules/x/msg-ids", params={"page": page}))


# ----------------------------------------------------------------------------- names

name_chars = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits + "_ -"),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0x3400, max_codepoint=0x4DBF),
    st.characters(min_codepoint=0x20000, max_codepoint=0x2FA1F),
    st.sampled_from("ぁアｱ한Жé²ＡＢ０\u00a0\u3000\t\u200b·。、！"),
    st.characters(exclude_categories=("Cs",)),
)


def models_accept(name: str) -> bool:
    try:
        Schedule.model_validate({**single(), "name": name}, context={"now": START})
    except pydantic.ValidationError:
        return False
    return True


@PROPERTY
@given(name=st.text(alphabet=name_chars, max_size=100))
def test_emulator_and_manifests_agree_on_names(
    api: httpx.Client, emulator: Emulator, name: str
) -> None:
    """For any generated name, the emulator accepts a create exactly when the manifest model
    accepts the name (one reading of the rule on both sides); a refusal is 400 / 28100."""
    fresh(emulator)
    response = api.post("/v4/schedules", json=single(name))
    assert_documented(response)
    if models_accept(name):
        assert response.status_code == 200, (name, response.text)
    else:
        assert (response.status_code, response.json()["error"]["code"]) == (400, 28100), name


def test_the_name_template_is_valid_for_the_models() -> None:
    """The body the name property varies is itself a valid manifest (else it proves nothing)."""
    assert models_accept("valid_name")
    assert not models_accept("   ")
