"""Manifests in any YAML style are read by libyaml with YAML 1.2 meanings (docs/yaml.md).

What changed for users when the reader moved from ruamel.yaml's pure-Python loader to libyaml:
no style sends a file to a slow path any more, and the places where ruamel.yaml did not follow
YAML 1.2 now do. The equivalence with the old loader everywhere else is tests/test_yaml_reader.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reconciler.manifests.load import ManifestSet, load_manifests

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ROOT = Path(__file__).parent.parent

MANIFEST = """\
name: Spring_sale
enabled: true
trigger:
  single:
    time: "2027-03-01 09:00:00"
    zone_type: 1
push:
  to: all
  body:
    platform: all
    notification:
      alert: Spring sale starts now
"""


def load_text(tmp_path: Path, text: str) -> ManifestSet:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return load_manifests([path], now=NOW, tz=ZoneInfo("UTC"))


def test_explicit_str_tag_makes_a_number_text(tmp_path: Path) -> None:
    """``request_id: !!str 12345`` is the text "12345" (before: refused as a tagged value)."""
    result = load_text(tmp_path, MANIFEST + "  request_id: !!str 12345\n")
    assert result.problems == []
    assert result.manifests[0].body["push"]["request_id"] == "12345"


def test_a_yaml_11_directive_does_not_make_yes_a_boolean(tmp_path: Path) -> None:
    """Under ``%YAML 1.1`` the YAML 1.2 rules still apply: ``enabled: yes`` is text, an error
    at its place (before: silently true)."""
    text = "%YAML 1.1\n---\n" + MANIFEST.replace("enabled: true", "enabled: yes")
    result = load_text(tmp_path, text)
    assert [(p.line, p.col) for p in result.errors] == [(4, 10)]
    assert "enabled: must be true or false, got 'yes'" in result.errors[0].message


def test_a_tab_may_separate_a_value_from_its_key(tmp_path: Path) -> None:
    """``enabled:<TAB>true`` is valid YAML 1.2 (before: a syntax error)."""
    result = load_text(tmp_path, MANIFEST.replace("enabled: true", "enabled:\ttrue"))
    assert result.problems == []
    assert result.manifests[0].schedule.enabled is True


def test_a_reused_anchor_is_a_warning_with_its_place(tmp_path: Path) -> None:
    """An anchor defined twice: the later one wins, and the warning says where it is (before:
    a warning with no line)."""
    text = MANIFEST.replace("alert: Spring sale starts now", "alert: &a Spring sale") + (
        "  custom_args:\n    first: &a one\n    second: *a\n"
    )
    result = load_text(tmp_path, text)
    assert result.errors == []
    assert [(p.line, p.col) for p in result.warnings] == [(14, 12)]
    assert result.manifests[0].body["push"]["custom_args"] == {"first": "one", "second": "one"}


def test_reading_any_style_never_imports_ruamel(tmp_path: Path) -> None:
    """Flow style, anchors, block scalars and several documents are read without ruamel.yaml
    (before, each such file went to its pure-Python loader, about 2.4 ms a file)."""
    (tmp_path / "m.yaml").write_text(
        '{"name": "Flow", "enabled": true, "push": {"body": {"alert": &a "x"}, "y": *a}}\n'
        "---\nname: Block\nenabled: true\nnote: |\n  text\n",
        encoding="utf-8",
    )
    code = (
        "import sys; from pathlib import Path; from datetime import datetime, UTC\n"
        "from zoneinfo import ZoneInfo\n"
        "from reconciler.manifests.load import load_manifests\n"
        f"load_manifests([Path({str(tmp_path)!r})], now=datetime.now(UTC), tz=ZoneInfo('UTC'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('ruamel')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "[]"
