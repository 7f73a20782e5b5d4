"""``docs/settings.md``: the settings table (``reconciler/settings.py``) as a page.

One job: write the page, a table of every setting and a section each, so the docs say what the
code does. Regenerate it after changing the table::

    python -m reconciler.settings_page > docs/settings.md

``tests/test_settings.py`` fails while the page and the table differ.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from reconciler.settings import SETTINGS, Setting, shown

REGENERATE: Final = "python -m reconciler.settings_page > docs/settings.md"


def _default(setting: Setting[Any]) -> str:
    """The default as a person reads it."""
    if setting.default_text is not None:
        return setting.default_text
    return shown(setting.default)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) or "—"


def _type(setting: Setting[Any]) -> str:
    words = setting.kind.value
    if setting.choices:
        return f"{words}: {', '.join(setting.choices)}"
    low, high = setting.minimum, setting.maximum
    if low is not None and high is not None:
        return f"{words}, {shown(low)} to {shown(high)}"
    if low is not None:
        return f"{words}, at least {shown(low)}"
    if high is not None:
        return f"{words}, at most {shown(high)}"
    return words


def _where(setting: Setting[Any]) -> str:
    if setting.commands:
        return f"option of {', '.join(setting.commands)}"
    if setting.flags:
        return "option of `reconciler`, before the command"
    return "reconciler.yaml only"


def markdown() -> str:
    """``docs/settings.md``: the table above as a page."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated from reconciler/settings.py; do not edit by hand. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        "Every setting the reconciler takes, where to give it and what it is without it. A",
        "setting with a flag also reads the environment variable beside it; where a flag and a",
        "`reconciler.yaml` key name one setting, the flag wins over the key, which wins over the",
        "default. The options of one command alone (`--out`, `--format`, `--id`, ...) are in",
        "`reconciler COMMAND --help`.",
        "",
        "`reconciler.yaml` holds environments, and optionally which one is the default:",
        "",
        "```yaml",
        "default: staging",
        "environments:",
        "  staging:",
        "    data_center: sgp",
        "    app_key_env: STAGING_APP_KEY",
        "    master_secret_env: STAGING_SECRET",
        "  prod:",
        "    data_center: sgp",
        "    app_key_env: PROD_APP_KEY",
        "    master_secret_env: PROD_SECRET",
        "    max_deletes: 5",
        "```",
        "",
        "Paths in it are relative to the file. Without the file there is one environment,",
        "`default`, with every default below.",
        "",
        "| setting | flag | variable | reconciler.yaml | type | default |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        keys = [f"environments.NAME.{s.key}"] if s.key else []
        keys += [s.top_key] if s.top_key else []
        lines.append(
            f"| [{s.name}](#{s.name}) | {_code(s.flags)} "
            f"| {_code([s.variable] if s.variable else [])} | {_code(keys)} "
            f"| {_cell(_type(s))} | {_cell(_default(s))} |"
        )
    for s in SETTINGS:
        lines += ["", f"## {s.name}", "", _cell(s.help_text()), ""]
        lines.append(f"- where: {_where(s)}")
        lines.append(f"- type: {_type(s)}")
        lines.append(f"- default: {_default(s)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
