"""The versions of the documents the tool writes for machines, one per kind of document.

``format_version`` in each says which schema it follows; a change a reader of the old one would
misread bumps the version of that kind alone. The state file's version is ``state.STATE_VERSION``
(it is read back, and migrated, by the state store itself).
"""

from __future__ import annotations

from typing import Final, Literal

# A saved plan (`reconciler plan --out FILE`), read back by `reconciler apply FILE`.
PLAN_FILE_VERSION: Final[Literal[1]] = 1

# The JSON that commands print with `--format json` (plan, drift, history, calendar, state list,
# remote list, send): written for scripts, never read back by the tool.
JSON_OUTPUT_VERSION: Final = 1
