"""HTTP Basic auth (docs/api.md section 1): 401/28101 on schedules, 21004/21008 on batch push."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import DEMO_APP_KEY, Emulator
from tests.emulator.helpers import error_code, single

BATCH = {"requests": [{"target": "r1", "platform": "android", "notification": {"alert": "x"}}]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v4/schedules"),
        ("POST", "/v4/schedules"),
        ("GET", "/v4/schedules/x"),
        ("PUT", "/v4/schedules/x"),
        ("DELETE", "/v4/schedules/x"),
        ("GET", "/v4/schedules/x/msg-ids"),
    ],
)
def test_wrong_secret_is_401_28101(api: httpx.Client, method: str, path: str) -> None:
    """Every schedule endpoint refuses a wrong Master Secret with 401 / 28101."""
    response = api.request(method, path, auth=(DEMO_APP_KEY, "wrong"), json=single())
    assert response.status_code == 401
    assert error_code(response) == 28101


def test_missing_auth_is_401_28101(anon: httpx.Client) -> None:
    """No Authorization header at all is 401 / 28101."""
    response = anon.get("/v4/schedules")
    assert response.status_code == 401
    assert error_code(response) == 28101


def test_garbled_auth_header_is_401_28101(anon: httpx.Client) -> None:
    """A Basic header that is not base64 of ``key:secret`` is 401 / 28101."""
    for header in ("Basic !!!", "Basic " + "bm9jb2xvbg==", "Bearer abc"):
        response = anon.get("/v4/schedules", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert error_code(response) == 28101


def test_short_app_key_on_schedules_is_plain_auth_failure(api: httpx.Client) -> None:
    """The schedule API has no length code: a 23-character AppKey is 401 / 28101."""
    response = api.get("/v4/schedules", auth=(DEMO_APP_KEY[:-1], "x"))
    assert response.status_code == 401
    assert error_code(response) == 28101


def test_failed_auth_changes_nothing(api: httpx.Client, emulator: Emulator) -> None:
    """A create with wrong credentials creates no task."""
    api.post("/v4/schedules", json=single(), auth=(DEMO_APP_KEY, "wrong"))
    assert emulator.schedules() == []


def test_batch_wrong_secret_is_401_21004(api: httpx.Client, emulator: Emulator) -> None:
    """Batch push refuses a wrong Master Secret with 401 / 21004 and sends nothing."""
    response = api.post("/v4/batch/push/regid", json=BATCH, auth=(DEMO_APP_KEY, "wrong"))
    assert response.status_code == 401
    assert error_code(response) == 21004
    assert emulator.pushes() == []


def test_batch_app_key_of_wrong_length_is_400_21008(api: httpx.Client) -> None:
    """Batch push answers an AppKey that is not 24 characters with 400 / 21008."""
    response = api.post("/v4/batch/push/alias", json=BATCH, auth=("short-key", "secret"))
    assert response.status_code == 400
    assert error_code(response) == 21008


def test_custom_credentials_replace_the_demo_pair() -> None:
    """An emulator built with its own pair accepts that pair and refuses the demo one."""
    import base64

    em = Emulator(app_key="K" * 24, master_secret="s3cret")

    def header(key: str, secret: str) -> str:
        return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()

    assert em.authenticate(header("K" * 24, "s3cret")) == "ok"
    assert em.authenticate(header(DEMO_APP_KEY, "s3cret")) == "failed"


def test_repr_hides_credentials() -> None:
    """The emulator's repr never contains the AppKey or the Master Secret."""
    em = Emulator(app_key="A" * 24, master_secret="topsecret")
    assert "A" * 24 not in repr(em)
    assert "topsecret" not in repr(em)
