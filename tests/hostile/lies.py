"""The lies the hostile server tells; each a ``Lie`` subclass, all listed in ``LIES``.

Each is aimed at ``target`` (a task the server holds) where it needs one. ``refuse`` is what the
tool's error must say when it has to stop; lies with ``refuse = None`` make the read incomplete
or wrong in a way that leaves nothing to write (the project is in sync), and the tool may finish.
Used by ``tests/hostile`` (every lie, every command) and the reliability campaign
(``tests/reliability/test_hostile_campaign.py``: random lies, targets and commands by seed).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from reconciler.limits import REMOTE_TEXT_MAX_CHARS

from .server import Answer, Honest, Lie, Seen, drip, flood


class MovingTotal(Lie):
    """Every list page claims one task more than the last one did, with the same rows (a
    page holding the tail of the list then falls short of its own total)."""

    name = "moving-total"
    refuse = "cannot be trusted"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page is None:
            return truth
        data = truth.data()
        data["total_count"] += self.bump()
        return Answer.json(data)


class DuplicateIds(Lie):
    """Page 2 starts with page 1's first row (same id, same name) instead of its own."""

    name = "duplicate-ids"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page != 2:
            return truth
        data = truth.data()
        if data["schedules"]:
            first = {"schedule_id": self.target, "name": self.target_name, "enabled": True}
            data["schedules"][0] = first
        return Answer.json(data)

    target_name = ""


class DuplicateRenamed(DuplicateIds):
    """Page 2 starts with page 1's first id under another name."""

    name = "duplicate-renamed"
    refuse = "listed twice"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        self.target_name = "someone_else"
        return await super().answer(seen, honest)


class NameMismatch(Lie):
    """The target's detail carries another name than its list row."""

    name = "name-mismatch"
    refuse = "disagree"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.detail_of != self.target:
            return truth
        data = truth.data()
        data[0]["name"] = "someone_else"
        return Answer.json(data)


class ProxyNotFound(Lie):
    """A proxy answers the target's detail with its own HTML 404 page."""

    name = "proxy-404"
    refuse = "404"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        if seen.detail_of == self.target:
            return Answer.html(404, "404 Not Found", "nginx")
        return await honest()


class ListedButNotFound(Lie):
    """The target is listed, and its detail says 28104 (it does not exist), every time."""

    name = "listed-but-28104"
    refuse = "disagree"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        if seen.detail_of == self.target:
            error = {"error": {"code": 28104, "message": "schedule does not exist"}}
            return Answer.json(error, 404)
        return await honest()


class HtmlErrors(Lie):
    """Every answer is a gateway's HTML error page that asks to come back in an hour."""

    name = "html-errors"
    refuse = "HTML page"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        return Answer.html(503, "503 Service Unavailable", "try later", **{"Retry-After": "3600"})


class SlowDrip(Lie):
    """List pages arrive a byte every 50 ms: each within no timeout, the read never done."""

    name = "slow-drip"
    refuse = "did not finish within"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page is None:
            return truth
        assert isinstance(truth.body, bytes)
        return Answer(truth.status, drip(truth.body, 0.05), truth.content_type)


class HugeBody(Lie):
    """The target's detail is 64 MiB of JSON that never closes, made up as it is sent."""

    name = "huge-body"
    refuse = "larger than"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        if seen.detail_of == self.target:
            return Answer(200, flood(64 * 1024 * 1024))
        return await honest()


class HugeText(Lie):
    """The target's detail carries a text of 5 MiB (under the client's cap) built for the
    credential search: separated runs, an escaped line break, a piece of the secret, a
    zero-width space, again and again. No stored schedule holds a text of that length."""

    name = "huge-text"
    refuse = "longer than any text the API stores"

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.chunk = f"a-1-b-2 \\n> {secret[:6]} \u200b"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.detail_of != self.target:
            return truth
        data = truth.data()
        self.spoil(data[0])
        return Answer.json(data)

    def spoil(self, detail: dict[str, Any]) -> None:
        # 5 MiB of text: the zero-width space escaped by JSON, about 6.5 MiB of answer.
        detail["note"] = self.chunk * (5 * 1024 * 1024 // len(self.chunk))


class ManyTexts(HugeText):
    """The target's detail carries 80 texts each just under the longest the API stores, built
    for the credential search like ``HugeText``'s: 1.3 million characters in all, far under the
    client's cap. Searched whole for each copy a command prints, they held a plan for tens of
    seconds; past the scrubber's budget they are masked unsearched. Not one of ``lies``: the
    texts are a change the manifests undo, so an apply rightly writes."""

    name = "many-texts"
    refuse = None

    def __init__(self, secret: str, count: int = 80) -> None:
        super().__init__(secret)
        self.texts = count

    def spoil(self, detail: dict[str, Any]) -> None:
        text = (self.chunk * (REMOTE_TEXT_MAX_CHARS // len(self.chunk)))[:REMOTE_TEXT_MAX_CHARS]
        extras = {f"n{n}": f"{n}{text}"[:REMOTE_TEXT_MAX_CHARS] for n in range(self.texts)}
        detail["push"]["body"]["notification"]["android"] = {"alert": "x", "extras": extras}


class PathId(Lie):
    """The target's list row carries an id made of path characters instead of its own."""

    refuse = "not a schedule id"

    def __init__(self, bad_id: str) -> None:
        super().__init__()
        self.bad_id = bad_id
        self.name = f"path-id {bad_id!r}"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page is None:
            return truth
        data = truth.data()
        for row in data["schedules"]:
            if row["schedule_id"] == self.target:
                row["schedule_id"] = self.bad_id
        return Answer.json(data)


class EndlessTotal(Lie):
    """Page 1 holds one row and claims 100000 tasks: one row a page, a hundred thousand pages."""

    name = "endless-total"
    refuse = "pages"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page is None:
            return truth
        data = truth.data()
        data["schedules"] = data["schedules"][:1]
        data["total_count"] = 100_000
        data["total_pages"] = 100_000
        return Answer.json(data)


class ShortPage(Lie):
    """Page 1 is full and honest; every later page is empty, though the total says more."""

    name = "short-page"
    refuse = "holds 0 task"

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page is None or seen.page == 1:
            return truth
        data = truth.data()
        data["schedules"] = []
        return Answer.json(data)


class SecretEcho(Lie):
    """Every answer is an error page echoing the credentials in every spelling it can think of:
    the Authorization header, each half raw, URL-encoded, base64, at a random-looking offset."""

    name = "secret-echo"
    refuse = "HTML page"

    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        forms = [
            f"Authorization: Basic {token}",
            key,
            secret,
            quote(secret, safe=""),
            quote(token, safe=""),
            base64.b64encode(secret.encode()).decode(),
            base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
        ]
        self.forms = forms

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        n = self.bump()
        filler = "x" * (150 + 7 * n % 60)  # puts the echo across the quoting limit
        text = filler + " ".join(self.forms[n % len(self.forms) :] + self.forms)
        title = self.forms[n % len(self.forms)]
        return Answer.html(502, title, text, **{"Retry-After": "3600"})


class SecretName(Lie):
    """The target is listed and detailed under the Basic token as its name (consistently)."""

    name = "secret-name"
    refuse = "holds the credentials"

    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        self.token = base64.b64encode(f"{key}:{secret}".encode()).decode()

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        truth = await honest()
        if seen.page is not None:
            data = truth.data()
            for row in data["schedules"]:
                if row["schedule_id"] == self.target:
                    row["name"] = self.token
            return Answer.json(data)
        if seen.detail_of == self.target:
            data = truth.data()
            data[0]["name"] = self.token
            return Answer.json(data)
        return truth


class SecretSpreadName(SecretName):
    """The same, the Master Secret with a control character between its characters: printed
    escaped (``\\x01``), it must be refused all the same."""

    name = "secret-spread-name"

    def __init__(self, key: str, secret: str) -> None:
        super().__init__(key, secret)
        self.token = "\x01".join(secret)


class SecretMarkedName(SecretName):
    """The same, the Master Secret with a visible mark beyond ASCII between its characters
    (``c·a·n·a·r·y``): printed as it is, it must be refused all the same."""

    name = "secret-marked-name"

    def __init__(self, key: str, secret: str) -> None:
        super().__init__(key, secret)
        self.token = "\u00b7".join(secret)


PATH_IDS = ("..", ".", "../../v4/batch/push/alias", "a/b", "%2e%2e", "x?page=2", "x#y")


def lies(key: str, secret: str) -> list[Lie]:
    """A fresh instance of every lie (they count requests, so one per run)."""
    return [
        MovingTotal(),
        DuplicateIds(),
        DuplicateRenamed(),
        NameMismatch(),
        ProxyNotFound(),
        ListedButNotFound(),
        HtmlErrors(),
        SlowDrip(),
        HugeBody(),
        HugeText(secret),
        *(PathId(bad) for bad in PATH_IDS),
        EndlessTotal(),
        ShortPage(),
        SecretEcho(key, secret),
        SecretName(key, secret),
        SecretSpreadName(key, secret),
        SecretMarkedName(key, secret),
    ]


LIE_NAMES = [lie.name for lie in lies("k" * 24, "s" * 12)]
