"""A credential wrapped over quoted lines, or spelled with blanks between its characters, is
masked; ordinary text with the same marks is left as it was.

A manifest or a server's answer that quotes a credential reaches people through a CI log, a
pull-request comment (Markdown) or a shell: a long value is then cut over lines that each start
with a quoting prefix ("> " of an e-mail or Markdown quote, "| " of a table or a YAML-like dump,
"# " of a comment), or joined again by a shell's "\\" at a line's end, the next line indented;
or it is spelled with a space between its characters. None of its pieces of 12 characters may
show once the marks are left out.
"""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.config.connection import Credentials
from reconciler.redact import REDACTED, Scrubber
from tests.reliability.campaign import FULL
from tests.secrets.test_scrub import PIECE, leaked_pieces

KEY = "CanaryKeyA7Q2x9Z4w8K1mP3d"
SECRET = "canary/master secret+Vb7Xq29%LmZ"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
FORMS = (KEY, SECRET, TOKEN)

# The prefixes a continuation line starts with: a quote (nested too), a table or dump, a
# comment; indented or not.
PREFIXES = ("> ", ">", "> > ", ">> ", "  > ", "| ", "|", "  | ", "# ", "#", "## ", "\t# ")
# Each a way to cut a line and go on with the next: (the end of a line, the start of the next).
BREAKS = (
    *(("\n", prefix) for prefix in PREFIXES),
    ("\\\n", "    "),  # a shell's line continuation, the next line indented
    ("\\\n", ""),
    (" \\\n", "  "),
    ("\r\n", "> "),
    (" |\n", "| "),  # a one-column table, closed at each line's end
)
MARKS = " \t\r\n>|#\\"


def scrubber() -> Scrubber:
    return Scrubber(Credentials(KEY, SECRET).secrets())


def bare(text: str) -> str:
    """``text`` without any of the marks a wrap, a quote or a spacing puts in."""
    return "".join(c for c in text if c not in MARKS)


def wrapped(form: str, width: int, end: str, start: str) -> str:
    """``form`` cut every ``width`` characters, each line ending with ``end`` (the line break
    included) and the next starting with ``start``."""
    return (end + start).join(form[n : n + width] for n in range(0, len(form), width))


def test_a_secret_wrapped_over_quoted_lines_is_masked() -> None:
    """Every cut width from 3 to 12, every prefix and every line continuation, for each
    credential and their Basic token: no piece of 12 characters shows."""
    scrub = scrubber()
    for form in FORMS:
        for width in range(3, PIECE + 1):
            for end, start in BREAKS:
                text = f"{start}error: {wrapped(form, width, end, start)} (end)"
                shown = scrub(text)
                assert leaked_pieces(bare(shown), [bare(form)]) == [], (width, end, start)


def test_the_lines_around_a_quoted_secret_are_kept() -> None:
    """Only the secret is masked: the quoted lines before and after it, and the prefixes of
    the lines it was wrapped over after the mask, are left as they were."""
    scrub = scrubber()
    text = f"> said:\n> key: {KEY[:9]}\n> {KEY[9:18]}\n> {KEY[18:]} was refused\n> bye\n"
    assert scrub(text) == f"> said:\n> key: {REDACTED} was refused\n> bye\n"
    text = f"# before\n# {TOKEN[:40]}\n#   {TOKEN[40:]}\n# after"
    assert scrub(text) == f"# before\n# {REDACTED}\n# after"


def test_a_secret_losing_its_own_space_at_a_quoted_wrap_is_masked_whole() -> None:
    """The Master Secret cut at its own space, which the wrap swallowed: "master" ends one
    line, "secret" starts the next. Both pieces are masked, not only the first form found."""
    scrub = scrubber()
    head, tail = SECRET.split(" ")
    for prefix in ("> > ", "| ", "# "):
        shown = scrub(f"{prefix}{head}\n{prefix}{tail}")
        assert shown == f"{prefix}{REDACTED}\n{prefix}{REDACTED}", prefix


def test_a_secret_with_blanks_between_its_characters_is_masked() -> None:
    """One space, two, a tab, a no-break space between every character, on one line and
    wrapped over quoted lines; each credential whole and a piece of 12 characters of it, the
    Basic token whole."""
    scrub = scrubber()
    for form in FORMS:
        # A piece of the token on its own is base64 of fewer than 12 characters of a half.
        pieces = (form[:PIECE], form[-PIECE:]) if form != TOKEN else ()
        for value in (form, *pieces):
            for gap in (" ", "  ", "\t", "\u00a0", " \t "):
                spaced = gap.join(value)
                for text in (
                    f"the key {spaced} was refused",
                    f"> the key\n> {spaced[: len(spaced) // 2]}\n> {spaced[len(spaced) // 2 :]}",
                ):
                    shown = scrub(text)
                    assert leaked_pieces(bare(shown.replace("\u00a0", "")), [bare(form)]) == [], (
                        value,
                        gap,
                    )


def test_a_manifest_comment_wrapping_a_credential_is_found_where_it_starts() -> None:
    """The manifest check (``Scrubber.first``) finds the AppKey pasted into a YAML comment
    over three lines, at its first character."""
    scrub = scrubber()
    lines = ["name: promo", f"# key: {KEY[:10]}", f"#      {KEY[10:20]}", f"#      {KEY[20:]}"]
    text = "\n".join([*lines, "enabled: true", ""])
    assert scrub.first(text) == text.index(KEY[:10])


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/+=%."


@settings(
    max_examples=400 if FULL else 80,
    deadline=None,
    derandomize=not FULL,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    key=st.text(alphabet=_ALPHABET, min_size=24, max_size=24),
    secret=st.text(alphabet=_ALPHABET, min_size=PIECE, max_size=40),
    which=st.sampled_from(["key", "secret", "token"]),
    width=st.integers(min_value=1, max_value=30),
    cut=st.sampled_from(BREAKS),
    gap=st.sampled_from(["", "", " ", "  ", "\t"]),
    before=st.text(alphabet=st.sampled_from(list("abc XYZ:\n>|#\\-")), max_size=200),
    after=st.text(alphabet=st.sampled_from(list("abc XYZ:\n>|#\\-")), max_size=200),
)
def test_a_quoted_or_spaced_secret_never_shows(
    key: str,
    secret: str,
    which: str,
    width: int,
    cut: tuple[str, str],
    gap: str,
    before: str,
    after: str,
) -> None:
    """Property: a credential with blanks between its characters or none, wrapped at any
    width over lines continued by any of the quoting prefixes, in any quoted text: no piece
    of 12 of its characters shows once the marks are left out."""
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    form = {"key": key, "secret": secret, "token": token}[which]
    end, start = cut
    text = before + end + start + wrapped(gap.join(form), width, end, start) + end + after
    shown = Scrubber(Credentials(key, secret).secrets())(text)
    assert leaked_pieces(bare(shown), [form]) == []


# What the reconciler prints, and what is quoted near it: a plan (text and Markdown), a diff,
# YAML with comments and block scalars, a Markdown quote and table, shell lines continued with
# "\", JSON with escaped line breaks, a Windows path.
ORDINARY = [
    """\
Reconciler plan at 2026-12-07T01:15:06+00:00 (time zone UTC)

  + create Timed_Push_Example_periodical_00000  (schedules/periodical_00000.yaml:1)
      + enabled: true
      + name: "Timed_Push_Example_periodical_00000"
      + push.body.notification.alert: "repeats periodic tasks 0 r0"
      + push.to.registration_id: ["1a0018970ab49abda3e", "100d85590955c1d2793"]
      # fires next at 2027-01-01 12:00:00 UTC
  ~ update promo  (schedules/promo.yaml:3)
      ~ push.body.notification.alert: "Canary sale" -> "Canary sale, 20% off"
""",
    """\
<!-- reconciler-plan:default -->
### Plan for `default`

| create | update | replace | delete | expired | conflict | unmanaged | skip |
|---:|---:|---:|---:|---:|---:|---:|---:|
| 1000 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |

<details>
<summary><code>+</code> create <b>Timed_Push_Example_periodical_00000</b> — a.yaml:1</summary>

```diff
+ enabled: true
+ name: "Timed_Push_Example_periodical_00000"
# fires next at 2027-01-01 12:00:00 UTC
```

</details>
""",
    """\
# Weekly digest, see docs/manifests.md
# (every Monday)
name: weekly_digest   # the task's name
push:
  body:
    notification:
      alert: |
        | Canary | Key |
        | master | secret |
      title: >
        > quoted
        > again
""",
    """\
> On Monday someone wrote:
> > the plan shows a create of Canary Key
> > and a secret rotation of the master
> | name | action |
> |------|--------|
> | promo | create |
""",
    """\
curl -X POST https://pushapi-sgp.engagelab.com/v4/schedules \\
    -H "Content-Type: application/json" \\
    -d @body.json
reconciler plan --out plan.json \\
  --format markdown
""",
    '{"alert": "line one\\nline two\\n> quoted", "path": "C:\\\\new\\\\table"}\n',
    "a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9\n",
    "C a n a r y K e y  is a canary key, spelled out\n",
]


def test_ordinary_text_with_quoting_marks_is_left_alone() -> None:
    """Plans, diffs, YAML, Markdown quotes and tables, shell continuations, JSON: nothing
    masked, nothing moved, whole or written line by line."""
    scrub = scrubber()
    for text in ORDINARY:
        assert scrub(text) == text
        assert scrub.first(text) is None
        for line in text.splitlines(keepends=True):
            assert scrub(line) == line


@settings(
    max_examples=300 if FULL else 60,
    deadline=None,
    derandomize=not FULL,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.text(
        alphabet=st.sampled_from(list("CanaryKey masterscrt>|#\\-:\n\t\"'0123456789")),
        max_size=400,
    )
)
def test_text_of_marks_and_a_secrets_letters_is_left_alone(text: str) -> None:
    """Property: text made of quoting marks, blanks and the credentials' own letters, but no
    12 of their characters in a row however it is read, is left exactly as it was."""
    assume(leaked_pieces(bare(text), [bare(f) for f in FORMS]) == [])
    assert scrubber()(text) == text
