"""Probe: credentials in what successful commands print.

The redaction of configured credentials is applied to error messages only; a task name or an
alert text on the server that holds the AppKey or the Master Secret is printed verbatim by
``remote list``, ``remote show`` and ``plan``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator
from tests.badinput.helpers import invoke
from tests.kit import bodies
from tests.secrets.conftest import (
    CANARY_ENV,
    CANARY_KEY,
    CANARY_SECRET,
    canary_emulator,
    leaks,
)

__all__ = ["canary_emulator"]


@pytest.mark.parametrize(
    "args",
    [("remote", "list"), ("remote", "show", "--format", "json", "Canary_task"), ("plan",)],
    ids=["remote-list", "remote-show", "plan"],
)
def test_successful_commands_never_print_the_credentials(
    canary_emulator: tuple[Emulator, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
) -> None:
    """Promise: the AppKey and Master Secret are never printed, whatever their source.

    A remote task named after the AppKey (a teammate's paste) whose alert holds the Master
    Secret: every command that shows remote tasks must print ``<redacted>`` in their place,
    as error messages already do.
    """
    emulator, url = canary_emulator
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    emulator.reset()
    task = bodies.body(CANARY_KEY, alert=f"key {CANARY_SECRET}", sender=None)
    with httpx.Client(base_url=url, auth=(CANARY_KEY, CANARY_SECRET)) as api:
        assert api.post("/v4/schedules", json=task).status_code == 200
        other = {**task, "name": "Canary_task"}
        assert api.post("/v4/schedules", json=other).status_code == 200

    outcome = invoke(["--endpoint", url, *args], env=CANARY_ENV)

    assert outcome.escaped is None
    assert leaks(outcome.stdout + outcome.stderr) == [], outcome.stdout


MANIFEST = """name: {name}
enabled: true
trigger:
  single:
    time: "2027-03-01 10:00:00"
    zone_type: 1
push:
  to: all
  body:
    platform: all
    notification:
      alert: {alert}
"""


@pytest.mark.parametrize(
    "args", [("validate",), ("plan",), ("drift",)], ids=["validate", "plan", "drift"]
)
def test_a_credential_in_a_manifest_file_name_or_text_is_never_printed(
    canary_emulator: tuple[Emulator, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
) -> None:
    """Promise: the AppKey and Master Secret are never printed, whatever their source.

    Manifest problems have their message redacted, but not the path in front of it: a file
    named ``<AppKey>.yaml`` with a warning prints the AppKey in ``validate`` and ``drift``;
    ``plan`` prints the source path of every action and the alert text holding the secret.
    """
    emulator, url = canary_emulator
    emulator.reset()
    monkeypatch.chdir(tmp_path)
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / f"{CANARY_KEY}.yaml").write_text(
        MANIFEST.format(name="has-hyphen", alert="hi"), encoding="utf-8"
    )
    (schedules / "pasted.yaml").write_text(
        MANIFEST.format(name="Pasted", alert=f"text {CANARY_SECRET}"), encoding="utf-8"
    )

    outcome = invoke(["--endpoint", url, *args], env=CANARY_ENV)

    assert outcome.escaped is None
    assert leaks(outcome.stdout + outcome.stderr) == [], outcome.stdout + outcome.stderr


def test_export_never_writes_a_credential_into_a_manifest_or_its_name(
    canary_emulator: tuple[Emulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: the AppKey and Master Secret never reach a file, whatever their source.

    ``export --adopt`` of a remote task whose alert holds the AppKey and the Master Secret
    wrote both into a manifest (a file that gets committed) and adopted it. Now the file holds
    ``<redacted>`` in their place, is marked NEEDS ATTENTION and is not adopted; a clean task
    beside it is exported and adopted as before. (A task *named* after a credential is refused
    by the client as a malformed answer before export sees it.)
    """
    emulator, url = canary_emulator
    emulator.reset()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    task = bodies.body("Leaky_task", alert=f"{CANARY_KEY} {CANARY_SECRET}", sender=None)
    clean = bodies.body("Clean_task", alert="Hi", sender=None)
    with httpx.Client(base_url=url, auth=(CANARY_KEY, CANARY_SECRET)) as api:
        assert api.post("/v4/schedules", json=task).status_code == 200
        assert api.post("/v4/schedules", json=clean).status_code == 200

    outcome = invoke(["--endpoint", url, "export", "--adopt"], env=CANARY_ENV)

    assert outcome.escaped is None
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    assert leaks(outcome.stdout + outcome.stderr) == []
    written = sorted((tmp_path / "schedules").iterdir())
    assert len(written) == 2, outcome.stdout + outcome.stderr
    for path in written:
        assert leaks(path.name) == [], path.name
        assert leaks(path.read_text(encoding="utf-8")) == [], path.name
    marked = [p for p in written if "NEEDS ATTENTION" in p.read_text(encoding="utf-8")]
    assert len(marked) == 1
    assert "<redacted>" in marked[0].read_text(encoding="utf-8")
    state = json.loads((tmp_path / ".reconciler" / "state.json").read_text(encoding="utf-8"))
    assert sorted(state["entries"]) == ["Clean_task"]

    # The placeholder is not valid text: left as it is, the file is refused where it stands,
    # and no command adopts or sends it (a push saying "<redacted>" to users).
    text = marked[0].read_text(encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "alert: !redacted" in t)
    checked = invoke(["validate"], env=CANARY_ENV)
    assert checked.exit_code == 1, checked.stdout + checked.stderr
    assert f"{marked[0].name}:{line}:" in checked.stdout + checked.stderr
    assert "write the intended text in its place" in checked.stdout + checked.stderr
    adopted = invoke(["--endpoint", url, "import", "--all-matching"], env=CANARY_ENV)
    assert adopted.exit_code == 1, adopted.stdout + adopted.stderr
    state = json.loads((tmp_path / ".reconciler" / "state.json").read_text(encoding="utf-8"))
    assert sorted(state["entries"]) == ["Clean_task"]


def _prefix_shown(text: str, secret: str, shortest: int = 8) -> str | None:
    """The longest start of ``secret`` (at least ``shortest`` characters) found in ``text``."""
    for end in range(len(secret), shortest - 1, -1):
        if secret[:end] in text:
            return secret[:end]
    return None


@pytest.mark.parametrize(
    ("key", "value_of"),
    [
        # a pydantic rule quotes the value, shortened to 60 characters
        ("interruption-level", lambda pad: f"'{pad}{CANARY_SECRET}'"),
        # the YAML reader quotes a value that is not its tag's, shortened to 40
        ("badge", lambda pad: f"!!int '{pad}{CANARY_SECRET}'"),
    ],
    ids=["model-rule", "yaml-tag"],
)
def test_a_credential_cut_short_in_a_message_is_never_shown_in_part(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    value_of: Any,
) -> None:
    """Promise: the AppKey and Master Secret are never printed, not even most of one.

    Messages shorten a quoted value; shortened before the credentials were masked, a secret
    straddling the cut lost its last characters and was no longer recognised: with the
    right padding all of it but one character was printed. Every padding is tried."""
    monkeypatch.chdir(tmp_path)
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    for pad in range(0, 61):
        text = MANIFEST.format(name=f"Pad_{pad}", alert="hi") + (
            f"      ios: {{{key}: {value_of('x' * pad)}}}\n"
        )
        (schedules / f"pad_{pad:02d}.yaml").write_text(text, encoding="utf-8")

    outcome = invoke(["validate"], env=CANARY_ENV)

    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    shown = outcome.stdout + outcome.stderr
    assert shown.count("error") >= 61, shown  # each file refused for its value
    assert _prefix_shown(shown, CANARY_SECRET) is None, shown


def test_a_change_inside_a_redacted_part_is_not_shown_as_no_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Promise: a plan line never reads as no change when there is one.

    A remote alert that held the AppKey, changed to one that holds the Master Secret (no
    manifest may hold either any more, but a diff shows both sides): both sides of the field
    line are redacted to the same text, so the line must say that they differ where it
    cannot show.
    """
    from reconciler import redact
    from reconciler.planning.diff import FieldChange
    from reconciler.render.describe import change_lines

    for name, value in CANARY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(redact, "_output_scrubber", None)
    change = FieldChange(
        path="push.body.notification.alert", old=f"text {CANARY_KEY}", new=f"text {CANARY_SECRET}"
    )

    mark, line = change_lines(change)

    shown = redact.output_scrubber()(line)
    assert mark == "~"
    assert leaks(shown) == [], shown
    assert '"text <redacted>" -> "text <redacted>"' in shown, shown
    assert "differ in a part shown as <redacted>" in shown, shown
    plain = change_lines(FieldChange(path="push.body.notification.alert", old="a", new="b"))
    assert plain == ("~", 'push.body.notification.alert: "a" -> "b"')


PROD_KEY = "ProdAppKeyQQ7Q2x9Z4w8K1m"
PROD_SECRET = "prod-master-secret-ZZ9911aa"
TWO_APPS = """environments:
  staging:
    app_key_env: STAGING_APP_KEY
    master_secret_env: STAGING_MASTER_SECRET
  production:
    app_key_env: PROD_APP_KEY
    master_secret_env: PROD_MASTER_SECRET
    timezone: {timezone}
"""


@pytest.mark.parametrize("broken", [False, True], ids=["valid-config", "config-error"])
def test_another_environments_credentials_are_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    """Promise: every configured environment's credentials are hidden, not only the selected
    one's, and before the config file's own problems are reported: a staging manifest can hold
    production's pasted Master Secret, and a setting can hold it too."""
    monkeypatch.chdir(tmp_path)
    timezone = PROD_SECRET if broken else "UTC"
    (tmp_path / "reconciler.yaml").write_text(TWO_APPS.format(timezone=timezone), "utf-8")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "copied.yaml").write_text(
        MANIFEST.format(name="Copied", alert=f"{PROD_KEY} {PROD_SECRET}"), "utf-8"
    )
    env = {
        "STAGING_APP_KEY": CANARY_KEY,
        "STAGING_MASTER_SECRET": CANARY_SECRET,
        "PROD_APP_KEY": PROD_KEY,
        "PROD_MASTER_SECRET": PROD_SECRET,
    }

    outcome = invoke(["--env", "staging", "validate", "--explain", "Copied"], env=env)

    assert outcome.escaped is None
    shown = outcome.stdout + outcome.stderr
    assert outcome.exit_code == 1, shown
    assert "<redacted>" in shown, shown
    # Watched although staging was chosen: the pasted credential is named as such.
    assert ("holds a configured credential" in shown) is not broken, shown
    for secret in (PROD_KEY, PROD_SECRET):
        for n in range(len(secret) - 11):
            assert secret[n : n + 12] not in shown, shown


def test_plan_files_and_drift_reports_never_hold_the_credentials(
    canary_emulator: tuple[Emulator, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Promise: the files the tool writes for CI (a plan file uploaded as an artifact, a drift
    report posted on an issue) hold the credentials no more than its terminal output does.

    A managed task's alert was changed in the console to hold the Master Secret: the plan
    that repairs it shows the old value, the drift report too. The saved plan, redacted
    where it only shows values, still applies and repairs the task."""
    emulator, url = canary_emulator
    emulator.reset()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "weekly.yaml").write_text(
        MANIFEST.format(name="Weekly", alert="hello"), "utf-8"
    )
    assert invoke(["--endpoint", url, "apply", "--auto-approve"], env=CANARY_ENV).exit_code == 0
    state = json.loads((tmp_path / ".reconciler" / "state.json").read_text("utf-8"))
    sid = state["entries"]["Weekly"]["schedule_id"]
    with httpx.Client(base_url=url, auth=(CANARY_KEY, CANARY_SECRET)) as api:
        detail = api.get(f"/v4/schedules/{sid}").json()
        task = detail[0] if isinstance(detail, list) else detail
        task = {k: v for k, v in task.items() if k != "schedule_id"}
        task["push"]["body"]["notification"]["alert"] = f"oops {CANARY_SECRET}"
        # and as a key, where a change's path and a deleted body's mapping show it
        task["push"]["body"]["notification"]["android"] = {"extras": {CANARY_KEY: "v"}}
        assert api.put(f"/v4/schedules/{sid}", json=task).status_code == 200

    planned = invoke(["--endpoint", url, "plan", "--out", "plan.json"], env=CANARY_ENV)
    drift_md = invoke(["--endpoint", url, "drift", "--report", "drift.md"], env=CANARY_ENV)
    drift_json = invoke(["--endpoint", url, "drift", "--report", "drift.json"], env=CANARY_ENV)

    assert planned.exit_code == 0, planned.stdout + planned.stderr
    assert drift_md.exit_code == drift_json.exit_code == 2, drift_md.stdout + drift_md.stderr
    for name in ("plan.json", "drift.md", "drift.json"):
        text = (tmp_path / name).read_text("utf-8")
        assert leaks(text) == [], (name, text)
        assert "oops <redacted>" in text, (name, text)
    # A plan that deletes the task instead shows its whole last body.
    weekly = tmp_path / "schedules" / "weekly.yaml"
    kept = weekly.read_text("utf-8")
    weekly.unlink()
    keeper = tmp_path / "schedules" / "keeper.yaml"
    keeper.write_text(MANIFEST.format(name="Keeper", alert="hi"), "utf-8")
    deleting = invoke(["--endpoint", url, "plan", "--out", "delete.json"], env=CANARY_ENV)
    assert deleting.exit_code == 0, deleting.stdout + deleting.stderr
    assert leaks((tmp_path / "delete.json").read_text("utf-8")) == []
    keeper.unlink()
    weekly.write_text(kept, "utf-8")
    applied = invoke(["--endpoint", url, "apply", "plan.json"], env=CANARY_ENV)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    with httpx.Client(base_url=url, auth=(CANARY_KEY, CANARY_SECRET)) as api:
        detail = api.get(f"/v4/schedules/{sid}").json()
    task = detail[0] if isinstance(detail, list) else detail
    assert task["push"]["body"]["notification"]["alert"] == "hello"


def test_a_manifest_holding_a_credential_is_refused_before_any_request(
    canary_emulator: tuple[Emulator, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Promise: no schedule carries a credential to users' devices, into the state file or a
    plan file. A manifest named after the AppKey (a valid name: 24 letters and digits), one
    whose alert holds the Master Secret, a default that holds it (it reaches every body) and
    a file named after the AppKey are each an error at their line; nothing is requested."""
    emulator, url = canary_emulator
    emulator.reset()
    monkeypatch.chdir(tmp_path)
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / "named.yaml").write_text(MANIFEST.format(name=CANARY_KEY, alert="hi"), "utf-8")
    (schedules / "pasted.yaml").write_text(
        MANIFEST.format(name="Pasted", alert=f"text {CANARY_SECRET}"), "utf-8"
    )
    (schedules / f"{CANARY_KEY}.yaml").write_text(
        MANIFEST.format(name="Clean", alert="hi"), "utf-8"
    )
    # YAML escapes that leave no twelve characters of it in the text: line continuations in
    # a double-quoted scalar, and a \U escape every sixth character. The values are checked
    # as they would be sent.
    split = '"canary-m\\\n        aster-se\\\n        cret-Vb7\\\n        Xq29LmZ"'
    escaped = "".join(f"\\U{ord(c):08X}" if n % 6 == 5 else c for n, c in enumerate(CANARY_KEY))
    (schedules / "split.yaml").write_text(MANIFEST.format(name="Split", alert=split), "utf-8")
    (schedules / "escaped.yaml").write_text(
        MANIFEST.format(name="Escaped", alert=f'"{escaped}"'), "utf-8"
    )
    (schedules / "_defaults.yaml").write_text(
        f"push:\n  body:\n    options:\n      apns_collapse_id: {CANARY_SECRET.upper()}\n", "utf-8"
    )
    emulator.clear_log()

    outcome = invoke(["--endpoint", url, "apply", "--auto-approve"], env=CANARY_ENV)

    shown = outcome.stdout + outcome.stderr
    assert outcome.exit_code == 1, shown
    assert leaks(shown) == [], shown
    assert "schedules/named.yaml:1:7: error: holds a configured credential" in shown, shown
    assert "schedules/pasted.yaml:12:19: error: holds a configured credential" in shown, shown
    assert "schedules/_defaults.yaml:4:25: error: holds a configured credential" in shown, shown
    assert "schedules/<redacted>.yaml: error: the file's path holds a configured credential" in (
        shown
    ), shown
    # the escapes are read as the pattern knows them (at the text), and so are the lines joined
    # by a "\" at their ends (a shell's continuation, here YAML's)
    assert "schedules/escaped.yaml:12:15: error: holds a configured" in shown, shown
    assert "schedules/split.yaml:12:15: error: holds a configured" in shown, shown
    assert emulator.request_log == []
    assert not (tmp_path / ".reconciler" / "state.json").exists()


def test_a_name_that_folds_to_a_credential_never_names_an_exported_file(
    canary_emulator: tuple[Emulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: a file name never spells a credential. A hostile server names a task after
    the Master Secret with a letter slipped in every few characters (so no twelve characters
    of it show; the vendor's name rule allows no such letters, a lying server sends them all
    the same): that passes as text, but the file name is made of the name's ASCII letters,
    where the extra ones fall away. The file is named after the task's id instead."""
    emulator, url = canary_emulator
    emulator.reset()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    # an "ø" after every 6th character: no 12 characters of it show as text, but "ø" has no
    # ASCII letter in it, so the file name's slug drops it
    name = "Promo_" + "".join(
        c + ("\u00f8" if i % 6 == 5 else "") for i, c in enumerate(CANARY_SECRET)
    )
    task = bodies.body("Promo", alert="Hi", sender=None)
    with httpx.Client(base_url=url, auth=(CANARY_KEY, CANARY_SECRET)) as api:
        assert api.post("/v4/schedules", json=task).status_code == 200
    for stored in emulator._store.tasks.values():  # what the lying server answers from now on
        stored.body["name"] = name

    outcome = invoke(["--endpoint", url, "export"], env=CANARY_ENV)

    # exported, and marked: the name breaks the name rule
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    assert "NEEDS ATTENTION" in outcome.stdout + outcome.stderr
    (written,) = (tmp_path / "schedules").iterdir()
    secret = CANARY_SECRET.lower()
    pieces = [secret[n : n + 12] for n in range(len(secret) - 11)]
    assert not [p for p in pieces if p in written.name.lower()], written.name
    assert written.name.startswith("schedule-"), written.name
