"""The settings every command runs with (``GlobalOptions``), as plain data.

They are chosen on the command line (``cli.py`` fills them from the top-level options) but read by
the layers below it (session, engine, config, policies), which must not depend on click: this
module imports nothing of the command-line package. See docs/python-api.md for scripting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.settings import CONFIG


@dataclass(frozen=True)
class GlobalOptions:
    """Settings of the top-level command, shared by every subcommand."""

    env: str | None = None
    config_path: str = CONFIG.default
    endpoint: str | None = None
    data_center: str | None = None
    rate_limit: float | None = None
    concurrency: int | None = None
    timeout: float | None = None
    read_deadline: float | None = None
    emulator: bool = False
    timezone: str | None = None
    now: datetime | None = None
    debug: bool = False

    @property
    def config_named(self) -> bool:
        """Whether a config file other than the default name was chosen: such a file must
        exist (a typo there must not silently run with the defaults)."""
        return self.config_path != CONFIG.default
