"""Hand-edited saved plans: the checksum of a plan file is not a signature (anyone who can edit
the file can recompute it), so `apply PLAN_FILE` checks every write of the plan against the
state file and the manifests before it sends any request.

Each test makes an honest plan, forges it (an action added or retargeted, the checksum
recomputed), and proves that apply refuses it with no write reaching the emulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from reconciler.planning import canonical
from reconciler.planning.artifact import Plan
from reconciler.planning.inputs import json_digest
from tests.e2e.helpers import Project
from tests.kit.bodies import body, periodical, single

Forge = Callable[[dict[str, Any], dict[str, str]], None]


def _setup(project: Project) -> dict[str, str]:
    """Two managed schedules ("a", "b") and a foreign task ("intruder") nobody manages."""
    project.write("a", alert="v1")
    project.write("b", alert="v1")
    assert project.apply().exit_code == 0
    ids = dict(project.state_ids())
    ids["intruder"] = project.out_of_band_create(body("intruder", alert="not ours"))
    return ids


def _forge(path: Path, edit: Callable[[dict[str, Any]], None], *, readable: bool = True) -> None:
    """Edit the plan file's JSON and recompute its checksum, as an attacker can; ``readable``:
    the forgery passes every test of the file itself (its checksum among them)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    plan = Plan.model_validate(data)
    path.write_text(
        plan.model_copy(update={"checksum": plan.compute_checksum()}).to_json(), encoding="utf-8"
    )
    if readable:
        Plan.from_json(path.read_text(encoding="utf-8"))


def _refused_when_read(project: Project, out: Path, edit: Callable[[dict[str, Any]], None]) -> str:
    """Forge the plan file at ``out`` with ``edit`` and apply it: refused before any request.
    Returns the output."""
    _forge(out, edit, readable=False)
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert project.emulator.request_log == []
    return result.output


def _delete(name: str, sid: str) -> dict[str, Any]:
    return {"kind": "delete", "name": name, "schedule_id": sid, "old_body": {}}


def _update(name: str, sid: str, alert: str = "v1") -> dict[str, Any]:
    new = canonical.canonicalize(body(name, alert=alert))
    return {
        "kind": "update",
        "name": name,
        "schedule_id": sid,
        "body": new,
        "fingerprint": canonical.fingerprint(new),
        "changes": [],
        "cause": "manifest",
    }


def _create(name: str, alert: str = "v1") -> dict[str, Any]:
    new = canonical.canonicalize(body(name, alert=alert))
    return {"kind": "create", "name": name, "body": new, "fingerprint": canonical.fingerprint(new)}


def _recreate(name: str, old: str) -> dict[str, Any]:
    new = canonical.canonicalize(body(name, alert="v1"))
    return {
        "kind": "recreate",
        "name": name,
        "old_schedule_id": old,
        "body": new,
        "fingerprint": canonical.fingerprint(new),
    }


def _replace(name: str, old: str) -> dict[str, Any]:
    return {
        **_recreate(name, old),
        "kind": "replace",
        "changes": [],
        "cause": "manifest",
        "reason": "zone_type changed",
    }


def _with_body(action: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``action`` with keys added to its body (its fingerprint kept)."""
    return {**action, "body": {**action["body"], **extra}}


def _add(action: Callable[[dict[str, str]], dict[str, Any]]) -> Forge:
    def edit(data: dict[str, Any], ids: dict[str, str]) -> None:
        data["actions"] = [a for a in data["actions"] if a["kind"] != "unmanaged"]
        data["actions"].append(action(ids))

    return edit


FORGERIES: dict[str, Forge] = {
    "delete of the foreign task under its own name": _add(
        lambda ids: _delete("intruder", ids["intruder"])
    ),
    "delete of the foreign task under a managed name": _add(
        lambda ids: _delete("a", ids["intruder"])
    ),
    "update of the foreign task under its own name": _add(
        lambda ids: _update("intruder", ids["intruder"])
    ),
    "update of the foreign task under a managed name": _add(
        lambda ids: _update("a", ids["intruder"])
    ),
    "update of a managed task with a body that is not its manifest": _add(
        lambda ids: _update("a", ids["a"], alert="forged")
    ),
    "update of one managed task under another's name": _add(lambda ids: _update("a", ids["b"])),
    "replace whose old task is the foreign one": _add(lambda ids: _replace("a", ids["intruder"])),
    "create of a name the state already manages": _add(lambda ids: _create("a")),
    "create of the foreign task's name": _add(lambda ids: _create("intruder")),
    # Found by a probe: each was carried out. The recreate made a second live "a" (the first
    # left firing as a conflict); the delete removed a schedule its manifest wants; the
    # forgets left "a" firing, unmanaged.
    "recreate of a managed task that is still live": _add(lambda ids: _recreate("a", ids["a"])),
    "delete of a managed task its manifest still wants": _add(lambda ids: _delete("a", ids["a"])),
    "expiry of a managed task that is still live": _add(
        lambda ids: {"kind": "expired", "name": "a", "schedule_id": ids["a"], "reason": "gone"}
    ),
    "skip that forgets a managed task, naming no task": _add(
        lambda ids: {
            "kind": "skip",
            "name": "a",
            "reason": "disabled; its remote task is gone",
            "forget": True,
            "schedule_id": None,
        }
    ),
    "skip that forgets a managed task that is still live": _add(
        lambda ids: {
            "kind": "skip",
            "name": "a",
            "reason": "disabled; its remote task is gone",
            "forget": True,
            "schedule_id": ids["a"],
        }
    ),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_write_is_refused_before_any_request(project: Project, forgery: str) -> None:
    """A saved plan edited to write a task the state does not own (or to write a body that is
    not the manifest's, or to create a name that exists) is refused with exit 1 and a message
    naming the action; no POST, PUT or DELETE reaches the server, the foreign task lives on."""
    ids = _setup(project)
    if "foreign task's name" in forgery:
        project.write("intruder", alert="v1")  # a manifest of that name (a conflict)
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert made.exit_code == 0, made.output
    _forge(out, lambda data: FORGERIES[forgery](data, ids))
    for refresh in ((), ("--full-refresh",)):
        project.mark()
        result = project.run("apply", *refresh, str(out))
        assert result.exit_code == 1, result.output
        assert "the saved plan does not match the state file" in result.output, result.output
        assert "Traceback" not in result.output
        assert project.writes() == []
    assert ids["intruder"] in {t["schedule_id"] for t in project.emulator.schedules()}
    assert project.state_ids()["a"] == ids["a"]


def test_two_creates_of_one_name_in_a_saved_plan_are_refused(project: Project) -> None:
    """A plan file holding the same create twice would make two tasks of one schedule: it is
    refused before any POST."""
    project.write("a")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    def twice(data: dict[str, Any]) -> None:
        data["actions"] = data["actions"] * 2

    _forge(out, twice)
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert "more than one write" in result.output, result.output
    assert project.writes() == []


@pytest.mark.parametrize("flag", [False, True], ids=["flag-cleared", "flag-kept"])
def test_a_forged_delete_of_a_protected_task_is_refused(project: Project, flag: bool) -> None:
    """The plan's own `protected` flags and verdicts are not trusted: a delete added to the
    plan of a task the state remembers as prevent_destroy is refused, whether the forger
    cleared the action's flag (it is not the state's) or kept it (the rule is applied afresh)."""
    project.write("a", protected=True)
    project.write("b")
    assert project.apply().exit_code == 0
    ids = project.state_ids()
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    _forge(out, lambda data: data["actions"].append({**_delete("a", ids["a"]), "protected": flag}))
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    # Refused as the delete of a schedule its manifest wants, and for the flag cleared also as
    # a delete without the protection the state remembers.
    assert "delete 'a': its manifest (schedules/a.yaml:1) still wants it" in result.output
    assert ("prevent_destroy" in result.output) is not flag
    assert project.writes() == []
    assert ids["a"] in {t["schedule_id"] for t in project.emulator.schedules()}


def test_a_saved_plan_whose_violations_were_erased_is_refused(project: Project) -> None:
    """An honest plan refused by a safety rule (a protected schedule's manifest removed) is
    written with its violation; erasing the violation from the file does not make it
    applicable: the rules are applied to the plan's actions again before any write."""
    project.write("a", protected=True)
    project.write("b")
    assert project.apply().exit_code == 0
    project.remove("a")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 1  # unsafe, but written
    _forge(out, lambda data: data.update(violations=[]))
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert "prevent_destroy" in result.output
    assert project.writes() == []


def test_a_forged_rename_is_refused(project: Project) -> None:
    """A rename the manifests do not declare (lifecycle.previous_names) would move one managed
    task's entry under another name and let the plan overwrite that task: refused, no write."""
    ids = _setup(project)
    project.write("c", alert="v1")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    def steal(data: dict[str, Any]) -> None:
        data["renames"] = {"c": "a"}
        data["actions"] = [_update("c", ids["a"])]

    _forge(out, steal)
    for refresh in ((), ("--full-refresh",)):
        project.mark()
        result = project.run("apply", *refresh, str(out))
        assert result.exit_code == 1, result.output
        assert "not a rename the manifests declare" in result.output, result.output
        assert project.writes() == []


def _renamed(project: Project, new: str, old: str) -> None:
    """Write the manifest ``new``, declaring ``old`` as its previous name."""
    data = body(new)
    data["lifecycle"] = {"previous_names": [old]}
    project.write_body(data)


def _saved_rename(project: Project) -> tuple[str, Path]:
    """ "Old_name" applied, then renamed "New_name" by its manifest; the plan saved. Returns the
    task's id and the plan file."""
    project.write("Old_name")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["Old_name"]
    project.remove("Old_name")
    _renamed(project, "New_name", "Old_name")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    return sid, out


def test_an_honest_saved_rename_still_applies(project: Project) -> None:
    """A declared rename saved with `plan --out` passes the checks: one PUT of the same id."""
    sid, out = _saved_rename(project)
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    assert project.state_ids() == {"New_name": sid}


def test_an_honest_saved_plan_still_applies(project: Project) -> None:
    """The checks pass every plan `reconciler plan --out` writes: update, delete and create in
    one saved plan are carried out."""
    ids = _setup(project)
    project.write("a", alert="v2")
    project.remove("b")
    project.write("c")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(project.write_summary()) == sorted(
        [
            ("PUT", f"/v4/schedules/{ids['a']}"),
            ("DELETE", f"/v4/schedules/{ids['b']}"),
            ("POST", "/v4/schedules"),
        ]
    )


def test_a_saved_plan_deleting_a_schedule_whose_manifest_ended_is_applied(
    project: Project,
) -> None:
    """The one delete of a name a manifest still holds that a plan makes (the manifest's `end`
    moved into the past while its task would go on firing) passes the check that refuses a
    forged delete of a wanted schedule."""
    now = project.emulator.now()
    trigger = {
        "start": f"{now + timedelta(days=1):%Y-%m-%d} 00:00:00",
        "end": f"{now + timedelta(days=200):%Y-%m-%d} 00:00:00",
    }
    project.write("weekly", trigger=periodical(**trigger))
    assert project.apply().exit_code == 0
    sid = project.state_ids()["weekly"]
    project.emulator.advance(timedelta(days=20).total_seconds())
    ended = {**trigger, "end": f"{now + timedelta(days=10):%Y-%m-%d} 00:00:00"}
    project.write("weekly", trigger=periodical(**ended))
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert "would still fire" in made.output, made.output
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 0, result.output
    assert ("DELETE", f"/v4/schedules/{sid}") in [(r.method, r.path) for r in project.writes()]


@pytest.mark.parametrize("field", ["violations", "policy_exceptions", "conflict"])
def test_a_saved_plans_own_words_are_printed_spelled_out(project: Project, field: str) -> None:
    """A plan file's violations and recorded policy exceptions are printed by apply (the
    first as its refusal): an escape sequence written into them is spelled out, never sent
    to the terminal or the CI log raw (a probe found both printed as they were)."""
    project.write("a")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    evil = "x\n::error title=forged::y\x1b]0;pwned\x07"

    def edit(data: dict[str, Any]) -> None:
        if field == "violations":
            data["violations"] = [evil]
        elif field == "conflict":  # said after apply: "... was not created: import NAME=ID"
            data["actions"].append(
                {"kind": "conflict", "name": evil, "schedule_ids": [evil], "identical": False}
            )
        else:
            data["policy_exceptions"] = [
                {
                    "rule": "quiet_hours",
                    "severity": "error",
                    "schedule": evil,
                    "path": "schedules/a.yaml",
                    "line": 1,
                    "col": 1,
                    "message": "m",
                }
            ]

    # An action's name or id and a policy exception's rule, schedule or path are refused when
    # the file is read (no plan holds such a one); the plan's other words are spelled out
    # where they are printed.
    refused = {
        "conflict": "names a schedule with a control or unseen character in actions[",
        "policy_exceptions": "holds a control or unseen character in policy_exceptions[0]",
    }
    _forge(out, edit, readable=field not in refused)
    for refresh in ((), ("--full-refresh",)):
        result = project.run("apply", *refresh, str(out))
        assert "\x1b" not in result.output, result.output
        assert "\x07" not in result.output
        assert not [line for line in result.output.splitlines() if line.startswith("::")]
        if field in refused:
            assert result.exit_code == 1, result.output
            assert refused[field] in result.output


def test_a_forged_recreate_beside_a_task_of_its_name_is_refused(project: Project) -> None:
    """A managed task deleted outside the tool while another task of its name was made: the
    plan shows a conflict. Edited into a recreate, it would make a second live task of that
    name; it is refused before any write."""
    project.write("a")
    assert project.apply().exit_code == 0
    old = project.state_ids()["a"]
    project.out_of_band_delete(old)
    other = project.out_of_band_create(body("a", alert="made elsewhere"))
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert "conflict" in made.output, made.output

    def recreate(data: dict[str, Any]) -> None:
        data["actions"] = [_recreate("a", old) if a["name"] == "a" else a for a in data["actions"]]

    _forge(out, recreate)
    project.mark()
    for refresh in ((), ("--full-refresh",)):
        result = project.run("apply", *refresh, str(out))
        assert result.exit_code == 1, result.output
        assert "recreate 'a': a remote task of that name exists" in result.output, result.output
    assert project.writes() == []
    assert [t["schedule_id"] for t in project.emulator.schedules() if t["name"] == "a"] == [other]


def test_a_declared_rename_forged_into_a_create_is_refused(project: Project) -> None:
    """A manifest renamed with lifecycle.previous_names: the plan renames the state entry and
    updates the task. Edited into a create of the new name (the rename dropped), it would
    leave the old task firing beside a new one with the same push."""
    project.write("old_name")
    assert project.apply().exit_code == 0
    old = project.state_ids()["old_name"]
    project.remove("old_name")
    project.write("new_name")
    path = project.schedules / "new_name.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "lifecycle:\n  previous_names: [old_name]\n",
        encoding="utf-8",
    )
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert "rename" in made.output, made.output

    def as_create(data: dict[str, Any]) -> None:
        data["renames"] = {}
        data["actions"] = [_create("new_name")]

    _forge(out, as_create)
    project.mark()
    for refresh in ((), ("--full-refresh",)):
        result = project.run("apply", *refresh, str(out))
        assert result.exit_code == 1, result.output
        assert "its manifest's previous name 'old_name' is still managed" in result.output, (
            result.output
        )
    assert project.writes() == []
    assert project.state_ids() == {"old_name": old}


@pytest.mark.parametrize(
    "edit",
    [
        lambda a: {**a, "schedule_id": "x/../y"},
        lambda a: {**a, "name": "a\u202e"},
        # Shows nothing: "promo\u200b" printed raw reads as the manifest "promo".
        lambda a: {**a, "name": "a\u200b"},
        lambda a: {**a, "name": "a\ufe0f"},
    ],
    ids=[
        "id-with-a-slash",
        "name-with-an-override",
        "name-with-a-zero-width-space",
        "name-with-a-variation-selector",
    ],
)
def test_a_plan_file_with_a_word_no_plan_holds_is_refused_when_read(
    project: Project, edit: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """An id that is not a schedule id or a name with a control character or one that shows
    nothing in any action: the planner makes neither (a server's names are spelled out), so the
    file was edited; refused when read, before any request."""
    _setup(project)
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    def forge(data: dict[str, Any]) -> None:
        data["actions"] = [edit(a) if a["kind"] == "unmanaged" else a for a in data["actions"]]

    assert "which no plan holds (was it edited?)" in _refused_when_read(project, out, forge)


def test_a_key_written_twice_in_a_saved_plan_is_refused(project: Project) -> None:
    """JSON keeps the last value of a repeated key; a person reviewing the file may read the
    first. A plan file whose update shows the reviewed alert first and carries another after
    it (the checksum computed over what apply would read, as a forger can) is refused when it
    is read: no request at all, and the live task keeps its alert."""
    project.write("a", alert="v1")
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert text.count('"alert": "v2"') == 1, text
    forged = text.replace('"alert": "v2"', '"alert": "v2", "alert": "forged"')
    data = json.loads(forged)  # the last value wins, as apply would read it
    plan = Plan.model_validate(data)
    data["checksum"] = plan.compute_checksum()
    forged = forged.replace(json.loads(text)["checksum"], data["checksum"])
    out.write_text(forged, encoding="utf-8")
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert "holds the key 'alert' twice in one object" in result.output, result.output
    assert "Traceback" not in result.output
    assert project.emulator.request_log == []
    (task,) = project.remote()["a"]
    assert "forged" not in json.dumps(task)


_OPTION_EDITS = {
    # text edits of the file: JSON has no NaN or Infinity, Python's reader takes them
    "a NaN mass-delete ratio": (
        lambda t: re.sub(r'"mass_delete_ratio": [0-9.]+', '"mass_delete_ratio": NaN', t),
        "holds NaN, which is no JSON number",
    ),
    "an infinite mass-delete ratio": (
        lambda t: re.sub(r'"mass_delete_ratio": [0-9.]+', '"mass_delete_ratio": Infinity', t),
        "holds Infinity, which is no JSON number",
    ),
    "a mass-delete ratio above 1": (
        lambda t: re.sub(r'"mass_delete_ratio": [0-9.]+', '"mass_delete_ratio": 1000', t),
        "options.mass_delete_ratio",
    ),
    "a minimum of managed schedules no setting makes": (
        lambda t: re.sub(r'"mass_delete_min_managed": \d+', '"mass_delete_min_managed": 999', t),
        "options.mass_delete_min_managed",
    ),
    "a negative fire guard": (
        lambda t: re.sub(r'"fire_guard_minutes": \d+', '"fire_guard_minutes": -1', t),
        "options.fire_guard_minutes",
    ),
}


@pytest.mark.parametrize("edit", sorted(_OPTION_EDITS))
def test_a_threshold_no_setting_makes_is_refused_in_a_saved_plan(
    project: Project, edit: str
) -> None:
    """A plan refused by the mass-delete rule, its violation erased and its ratio set to NaN
    (every comparison with NaN is false): apply deleted half the schedules while the file
    still said `allow_mass_delete: false`. A threshold no setting or flag can produce is now
    refused when the file is read, whatever the checksum says; nothing is deleted."""
    for n in range(10):
        project.write(f"s{n}")
    assert project.apply().exit_code == 0
    for n in range(5):
        project.remove(f"s{n}")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 1  # unsafe, but written
    _forge(out, lambda data: data.update(violations=[]))
    change, message = _OPTION_EDITS[edit]
    text = change(out.read_text(encoding="utf-8"))
    data = json.loads(text)  # Python's reader: NaN and Infinity become floats
    data["checksum"] = json_digest({k: v for k, v in data.items() if k != "checksum"})
    out.write_text(text.replace(json.loads(text)["checksum"], data["checksum"]), encoding="utf-8")
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert project.writes() == []
    assert len(project.remote()) == 10


_EXTRAS: dict[str, dict[str, Any]] = {
    "a key the API does not document": {"schedule_id": "x1"},
    "a null": {"extra": None},
    "the manifest's lifecycle": {"lifecycle": {"prevent_destroy": False}},
}


@pytest.mark.parametrize("kind", ["create", "update"])
@pytest.mark.parametrize("extra", sorted(_EXTRAS))
def test_a_body_that_only_canonicalises_to_the_manifests_is_refused(
    project: Project, kind: str, extra: str
) -> None:
    """A saved write whose body holds more than the manifest's canonical body (found by a
    probe): the check compared canonical forms, which drop such keys, and apply sent the body
    as the file wrote it. A body must now be the canonical body itself; no request writes."""
    project.write("a", alert="v1")
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    project.write("b", alert="v1")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    target = "b" if kind == "create" else "a"

    def add(data: dict[str, Any]) -> None:
        (action,) = [a for a in data["actions"] if a["name"] == target]
        assert action["kind"] == kind
        action["body"].update(_EXTRAS[extra])

    _forge(out, add)
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert f"{kind} '{target}'" in result.output, result.output
    assert "its body is not the manifest's" in result.output
    assert project.writes() == []


def _kinds_setup_unneeded(project: Project, ids: dict[str, str]) -> None:
    """Nothing to do: the forgery replaces a task that is in sync (a new id, its history
    lost; inside the fire guard too, where no flag was given)."""


def _kinds_setup_twin(project: Project, ids: dict[str, str]) -> None:
    """The managed task was deleted outside the tool and someone made another of its name:
    the honest plan is a conflict; a recreate is refused; a replace made a second live copy."""
    project.out_of_band_delete(ids["a"])
    project.out_of_band_create(body("a", alert="someone else's"))


def _kinds_setup_disabled(project: Project, ids: dict[str, str]) -> None:
    """Both manifests disabled: the honest plan updates them; replaces into disabled
    manifests deleted the tasks (and, with no DeleteAction, passed the mass-delete rule)."""
    project.write("a", alert="v1", enabled=False)
    project.write("b", alert="v1", enabled=False)


_KIND_FORGERIES: dict[str, tuple[Callable[[Project, dict[str, str]], None], str]] = {
    "an unneeded replace": (_kinds_setup_unneeded, "a"),
    "a replace of a vanished task beside its remade twin": (_kinds_setup_twin, "a"),
    "updates of disabled manifests turned into replaces": (_kinds_setup_disabled, "a,b"),
}


@pytest.mark.parametrize("refresh", [False, True], ids=["list-checked", "full-refresh"])
@pytest.mark.parametrize("forgery", sorted(_KIND_FORGERIES))
def test_a_saved_action_of_another_kind_than_the_planners_is_refused(
    project: Project, forgery: str, refresh: bool
) -> None:
    """Found by a probe: the write check compared each write's target and body with the state
    and the manifests, never its kind with the one the planner chooses. A replace passed for
    any managed name. A plan holding a kind chosen from the tasks' contents or absence is now
    vouched for by a plan made afresh from a full read, whose actions it must equal."""
    ids = _setup(project)
    setup, names = _KIND_FORGERIES[forgery]
    setup(project, ids)
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert made.exit_code in (0, 2), made.output
    live_before = sorted(t["schedule_id"] for t in project.emulator.schedules())

    def replace_all(data: dict[str, Any]) -> None:
        data["actions"] = [a for a in data["actions"] if a["name"] not in names.split(",")]
        for name in names.split(","):
            forged = _replace(name, ids[name])
            if "disabled" in forgery:
                forged["body"]["enabled"] = False
                forged["fingerprint"] = canonical.fingerprint(forged["body"])
            data["actions"].append(forged)

    _forge(out, replace_all)
    project.mark()
    result = project.run("apply", *(["--full-refresh"] if refresh else []), str(out))
    assert result.exit_code == 1, result.output
    assert "the saved plan's actions are not the ones its inputs give now" in result.output, (
        result.output
    )
    assert project.writes() == []
    assert sorted(t["schedule_id"] for t in project.emulator.schedules()) == live_before


@pytest.mark.parametrize("refresh", [False, True], ids=["list-checked", "full-refresh"])
def test_a_declared_rename_rewritten_as_a_delete_of_the_old_name_is_refused(
    project: Project, refresh: bool
) -> None:
    """Found by a probe: the rename dropped from the plan and a delete of the old name added.
    No manifest has the old name, so the delete passed as one of a name nobody wants: the task
    was deleted (and a sent "now" push's mark with it, to be sent again under the new name).
    The planner renames a managed previous name and never deletes it."""
    sid, out = _saved_rename(project)

    def drop_rename(plan: dict[str, Any]) -> None:
        plan["renames"] = {}
        plan["actions"] = [a for a in plan["actions"] if a["name"] != "New_name"]
        plan["actions"].append(_delete("Old_name", sid))

    _forge(out, drop_rename)
    project.mark()
    result = project.run("apply", *(["--full-refresh"] if refresh else []), str(out))
    assert result.exit_code == 1, result.output
    assert "it is the previous name of 'New_name'" in result.output, result.output
    assert project.writes() == []
    assert project.state_ids() == {"Old_name": sid}


def _apply_with_action_of(project: Project, out: Path, name: str, action: dict[str, Any]) -> Result:
    """``apply`` of the saved plan ``out`` with ``name``'s actions replaced by ``action``."""

    def swap(plan: dict[str, Any]) -> None:
        plan["actions"] = [a for a in plan["actions"] if a["name"] != name]
        plan["actions"].append(action)

    _forge(out, swap)
    project.mark()
    return project.run("apply", str(out))


def test_a_delete_of_a_task_the_list_lacks_is_refused(project: Project) -> None:
    """Found by a probe: a task gone from the server (fired) is forgotten as expired, its id
    kept for `history`. The expiry rewritten as a delete passed on the list alone (a delete
    of a name whose manifest's trigger has ended), and the entry went with no record."""
    project.write("a", alert="v1")
    project.write("b", alert="v1")
    assert project.apply().exit_code == 0
    ids = project.state_ids()
    project.remove("a")
    project.out_of_band_delete(ids["a"])
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert made.exit_code == 0, made.output

    result = _apply_with_action_of(project, out, "a", _delete("a", ids["a"]))
    assert result.exit_code == 1, result.output
    assert f"delete 'a': its task {ids['a']} is not on the server" in result.output
    assert project.writes() == []
    assert "a" in project.state_ids()


@pytest.mark.parametrize("manifest", ["disabled", "ended"])
def test_a_create_the_planner_skips_is_refused(project: Project, manifest: str) -> None:
    """Found by a probe: a create added for a disabled manifest, or for one whose trigger has
    ended, passed the tool's checks and was stopped only by the server's validation. The
    planner skips both; the write check now refuses them before any request."""
    _setup(project)
    if manifest == "disabled":
        written = project.write("c", alert="v1", enabled=False)
    else:
        written = project.write("c", alert="v1", trigger=single(time="2026-01-01 10:00:00"))
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    def add_create(plan: dict[str, Any]) -> None:
        plan["actions"] = [a for a in plan["actions"] if a["name"] != "c"]
        new = canonical.canonicalize(written)
        plan["actions"].append(
            {"kind": "create", "name": "c", "body": new, "fingerprint": canonical.fingerprint(new)}
        )

    _forge(out, add_create)
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    reason = "is disabled" if manifest == "disabled" else "trigger (schedules/c.yaml:1) has ended"
    assert "create 'c': its manifest" in result.output, result.output
    assert reason in result.output, result.output
    assert project.writes() == []


@pytest.mark.parametrize("refresh", [False, True], ids=["list-checked", "full-refresh"])
def test_a_delete_of_a_previous_name_whose_heir_is_managed_too_applies(
    project: Project, refresh: bool
) -> None:
    """Both names managed: the planner renames nothing (it says so) and deletes the old name's
    task with its manifest gone. That honest delete was refused as the delete of a name a
    rename moves (found by a probe of the previous-name check)."""
    project.write("A")
    project.write("B")
    assert project.apply().exit_code == 0
    ids = project.state_ids()
    project.remove("A")
    _renamed(project, "B", "A")
    out = project.root / "plan.json"
    made = project.run("plan", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert "nothing is renamed" in made.output, made.output
    project.mark()
    result = project.run("apply", *(["--full-refresh"] if refresh else []), str(out))
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{ids['A']}")]
    assert project.state_ids() == {"B": ids["B"]}


def test_an_update_of_a_task_the_list_lacks_is_refused_before_any_write(project: Project) -> None:
    """Found by a probe: a recreate (a task gone) rewritten as an update, beside an honest
    update, left the list-only path (no kind only a full read vouches for). The honest update
    was written, then the forged PUT failed on the server's 404: half a plan carried out. An
    update of a task the list lacks is now refused before any write."""
    ids = _setup(project)
    project.write("a", alert="v2")
    project.out_of_band_delete(ids["b"])
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    result = _apply_with_action_of(project, out, "b", _update("b", ids["b"]))
    assert result.exit_code == 1, result.output
    assert f"update 'b': its task {ids['b']} is not on the server" in result.output, result.output
    assert project.writes() == []


@pytest.mark.parametrize(
    "path",
    [
        "x\n::error title=forged::y\x1b]0;pwned\x07",
        # Shows nothing: the alert's change would read as one of another field.
        'push.notification["alert\u200b"]',
    ],
    ids=["control", "zero-width-space"],
)
def test_a_field_path_with_a_control_character_in_a_saved_plan_is_refused(
    project: Project, path: str
) -> None:
    """The planner writes a field path's odd keys as JSON strings, with what a reader could
    miss escaped, so no plan holds a control character or a zero-width space in a path; apply
    prints every path of the plan it is given. A path edited to ``x\\n::error::...`` would
    start a workflow command in the CI log, one with ``\\u200b`` read as another field:
    refused when read."""
    project.write("a", alert="v1")
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    def forge(data: dict[str, Any]) -> None:
        (update,) = [a for a in data["actions"] if a["kind"] == "update"]
        update["changes"][0]["path"] = path

    _forge(out, forge, readable=False)
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert "holds a field path with a control or unseen character in actions[" in result.output
    assert "\x1b" not in result.output
    assert project.emulator.request_log == []


def test_a_policy_exception_with_a_control_character_in_a_saved_plan_is_refused(
    project: Project,
) -> None:
    """A recorded policy exception's rule is printed by `apply FILE --allow-policy OTHER`
    ("the saved plan was made with --allow-policy RULE"): a rule edited to hold a line break
    started a workflow command there. No plan holds one (rules are policies' names, schedules
    manifests'): refused when read, before any request, and the message is escaped."""
    project.write("a")
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0
    rule = "nope\n::error title=forged::policy\x1b]0;t\x07"

    def edit(data: dict[str, Any]) -> None:
        data["policy_exceptions"] = [
            {
                "rule": rule,
                "severity": "error",
                "schedule": "a",
                "path": "schedules/a.yaml",
                "line": 1,
                "col": 1,
                "message": "m",
            }
        ]

    _forge(out, edit, readable=False)
    project.mark()
    for extra in ((), ("--allow-policy", "foo")):
        result = project.run("apply", *extra, str(out))
        assert result.exit_code == 1, result.output
        assert "holds a control or unseen character in policy_exceptions[0]" in result.output
        assert not [line for line in result.output.splitlines() if line.startswith("::")]
        assert "\x1b" not in result.output
    assert project.emulator.request_log == []


@pytest.mark.parametrize(
    "named",
    [
        lambda sid: {sid: "promo\u200b"},  # shows nothing: reads as the manifest's own name
        lambda sid: {sid: "promo\n::error::x"},
        lambda sid: {"0a0b0c0d-0000-4000-8000-000000000000": "promo "},  # no id the action lists
    ],
    ids=["zero-width-space", "line-break", "unlisted-id"],
)
def test_a_conflicts_forged_task_name_is_refused_when_read(
    project: Project, named: Callable[[str], dict[str, str]]
) -> None:
    """A conflict records the names of its tasks that are not exactly the manifest's (the
    advice to rename one first is printed with it). They are a server's names, spelled out
    when read, of the ids the action lists: any other was written by hand, and is refused
    when the file is read."""
    project.write("promo")
    sid = project.out_of_band_create(body("promo "))
    out = project.root / "plan.json"
    assert project.run("plan", "--out", str(out)).exit_code == 0

    def forge(data: dict[str, Any]) -> None:
        (conflict,) = [a for a in data["actions"] if a["kind"] == "conflict"]
        assert conflict["named_otherwise"] == {sid: "promo "}
        conflict["named_otherwise"] = named(sid)

    output = _refused_when_read(project, out, forge)
    assert "names a task otherwise than any server could in actions[" in output
