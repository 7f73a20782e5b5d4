"""The numbers that bound what the tool does, one place each: the vendor's documented limits,
what the reader believes of a server, and the defaults of the safety rules.

Imported by the planner, the reader, the config loader, the emulator and the command line alike
(pure constants: importing this costs nothing, so ``reconciler --help`` may use it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# -- the vendor's limits (docs/api.md) --------------------------------------------------------

MAX_ACTIVE_TASKS: Final = 1000  # docs/api.md 2.4: active scheduled tasks per app
PAGE_SIZE: Final = 50  # docs/api.md section 3: tasks per list page
NAME_MAX_BYTES: Final = 255  # docs/api.md 2: a schedule name, in UTF-8 bytes
CONTENT_MAX_BYTES: Final = 4000  # docs/api.md 5: a push's notification or message content
# A name in a server's answer longer than this is no schedule's name (four times the API's
# limit, in characters): it is refused before it is searched for credentials, a search a text
# built for it makes cost seconds a MiB.
REMOTE_NAME_MAX_CHARS: Final = 4 * NAME_MAX_BYTES
# Likewise any text in a schedule from the server: the longest the API stores is a push's content.
# Searching an alert of megabytes built to pass the scrubber's pre-test, for each of the plan's
# copies of it, held a `plan` for a minute and a half.
REMOTE_TEXT_MAX_CHARS: Final = 4 * CONTENT_MAX_BYTES
# Text that passes the output scrubber's pre-test (a few characters of a credential with
# nothing but marks and blanks between them) costs its search 1 to 4 s a million characters
# (docs/threat-model.md), and each copy a command prints is searched again. Ordinary output
# never passes (in the test suite, a command whose output holds no credential searched at most
# 7 000 characters of text; one that echoes a credential in every spelling, 84 000); a server's
# answers built for it do, texts under the bound above but hundreds of them. Past this much in
# one scrubber (one command's output, one client's answers) such a text is masked whole,
# unsearched: what holds a credential is never shown, and the search costs a command seconds
# at most. (A whole output, a plan or a report, is searched in blocks of lines: only a block
# that passes is charged.)
SEARCH_BUDGET: Final = 1_000_000

# -- what the reader believes ------------------------------------------------------------------

# A list total larger than this is no honest answer: 100 times the vendor's limit of active tasks
# (a raised limit for one app stays far below it).
MAX_PLAUSIBLE_TOTAL: Final = 100 * MAX_ACTIVE_TASKS

# -- the journal -------------------------------------------------------------------------------

# A create whose answer was lost may still be committed by the server after the client gave up;
# its absence from a complete read is trusted only this long after the entry's stamp (the
# executor renews the stamp before a POST leaves). Before that nothing is planned and
# `state rm` keeps the entry unless forced: a second POST would be a duplicate.
LATE_COMMIT_GRACE: Final = timedelta(minutes=5)

# -- the dates a command line takes ------------------------------------------------------------

# `--now`, `calendar --from/--to`: windows reach a year around them and are converted between
# zones, so a date near year 1 or 9999 would overflow Python's calendar (a traceback).
MIN_YEAR: Final = 1970
MAX_YEAR: Final = 9000

# -- the safety rules (docs/design.md "Safety rules") ----------------------------------------

# (Their defaults a user can change are in reconciler/settings.py.)
MAX_FIRE_GUARD_MINUTES: Final = 7 * 24 * 60  # a week: longer guards would block every change
DEFAULT_MASS_DELETE_MIN_MANAGED: Final = 10
