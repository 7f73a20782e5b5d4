"""One trial of each campaign, as a function of its seed (the tests and the regressions call these).

* ``crash_trial``: an applied world is changed (creates, updates, deletes, replaces, a disabled
  task, tasks deleted out of band, unmanaged tasks around), then ``reconciler apply`` runs as a
  child process and is killed (mostly SIGKILL) at seeded points: after the k-th write, after the
  k-th request, or a random delay after its first request. Then apply runs to completion and
  the world must have converged (``world.verify``) with a plan showing no changes.
* ``fault_trial``: the same kind of change applied through a server answering 20 % of requests
  with 5xx, committing 5 % of writes and then hanging or dropping the answer, with latency,
  jitter and a rate limit. apply is re-run until it exits 0, at most ``MAX_FAULT_RUNS`` times.
* ``churn_trial``: more than 50 tasks while unmanaged tasks come and go between list pages.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Literal

from reconciler.emulator import Emulator, Faults
from reconciler.limits import PAGE_SIZE
from reconciler.planning import canonical
from reconciler.state import edits as st
from reconciler.testing import serve_emulator
from tests.reliability import campaign, hygiene
from tests.reliability.world import (
    NOW,
    Body,
    Change,
    Project,
    Verdict,
    add_unmanaged,
    edited,
    fault_counts,
    invoke,
    list_reads,
    make_body,
    make_manifests,
    mutate,
    new_emulator,
    spawn_apply,
    verify,
    writes,
)

MAX_FAULT_RUNS = 10
UNLIMITED = ("--rate-limit", "5000")  # the client's default 50/s would make the campaigns crawl
KILL_WAIT_SECONDS = 60.0  # a run that neither finishes nor reaches its kill point is a hang


@dataclass(frozen=True)
class KillPoint:
    """When to stop a run: after the k-th write or request it sent, or ``value`` seconds after
    its first request; and how: SIGKILL (a runner that vanishes), SIGTERM (a runner shut down:
    the command stops at its next wait, exit 143) or SIGINT (Ctrl-C: the same, exit 130)."""

    mode: Literal["write", "request", "delay"]
    value: float
    signal: signal.Signals = signal.SIGKILL

    def __str__(self) -> str:
        unit = "s" if self.mode == "delay" else ""
        return f"{self.signal.name}:{self.mode}@{self.value:g}{unit}"


@dataclass
class Setup:
    """A world (applied, or a new project) and the manifests apply must realise next."""

    em: Emulator
    project: Project
    change: Change
    unmanaged: dict[str, Body]
    planned: Counter[str]


def prepare(
    rng: Random, em: Emulator, project: Project, url: str, *, size: tuple[int, int] = (8, 18)
) -> Setup:
    """Apply a first generation, add unmanaged tasks, write the next generation (not applied)."""
    before = make_manifests(rng, rng.randint(*size))
    unmanaged = add_unmanaged(em, rng, rng.randint(1, 3))
    project.write(before, rng)
    first = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
    assert first.exit_code == 0, first.output
    unmanaged |= add_unmanaged(em, rng, rng.randint(0, 2), prefix="late")
    change = mutate(rng, before, 1)
    state = project.store().load()
    # Deleted behind our back: the plan recreates them (trigger still ahead).
    gone = rng.sample(change.kept, min(len(change.kept), rng.randint(0, 2)))
    for name in gone:
        em.api_delete(state.entries[name].schedule_id)
    project.write(change.manifests, rng)
    planned = Counter(
        {
            "create": len(change.created),
            "update": len(change.updated) + len(change.disabled),
            "delete": len(change.deleted),
            "replace": len(change.replaced),
            "recreate": len(gone),
        }
    )
    return Setup(em=em, project=project, change=change, unmanaged=unmanaged, planned=planned)


def expected_writes(planned: Counter[str]) -> int:
    plain = sum(planned[k] for k in ("create", "update", "delete", "recreate"))
    return plain + 2 * planned["replace"]


def choose_kill(rng: Random, planned: Counter[str], tasks: int) -> KillPoint:
    """A kill point that falls inside the run: ``tasks`` is how many tasks the server holds."""
    mode = rng.choice(["write", "write", "write", "request", "request", "delay"])
    sig = rng.choices([signal.SIGKILL, signal.SIGINT, signal.SIGTERM], weights=[7, 2, 1])[0]
    if mode == "write":
        return KillPoint("write", rng.randint(1, max(1, expected_writes(planned))), sig)
    if mode == "request":
        # the list page(s), one detail per task, then the writes
        return KillPoint("request", rng.randint(1, 1 + tasks + expected_writes(planned)), sig)
    return KillPoint("delay", round(rng.uniform(0.0, 0.12), 3), sig)


def run_and_kill(
    em: Emulator,
    project: Project,
    url: str,
    point: KillPoint,
    log_path: Path,
    extra: tuple[str, ...] = (),
) -> bool:
    """Run apply and stop it at ``point``; True when it was stopped before it finished."""
    start = len(em.request_log)
    with log_path.open("wb") as out:
        proc = spawn_apply(project, url, out, extra)
        first_request: float | None = None
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while proc.poll() is None:
            log = em.request_log[start:]
            if log and first_request is None:
                first_request = time.monotonic()
            if point.mode == "write":
                hit = len(writes(log)) >= point.value
            elif point.mode == "request":
                hit = len(log) >= point.value
            else:
                hit = first_request is not None and time.monotonic() - first_request >= point.value
            if hit:
                proc.send_signal(point.signal)
                try:
                    proc.wait(timeout=KILL_WAIT_SECONDS)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise AssertionError(f"apply did not stop on {point}") from None
                settle(em)
                return True
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError(f"apply neither finished nor reached {point} in time")
            time.sleep(0.001)
    return False


def settle(em: Emulator, quiet: float = 0.05, most: float = 2.0) -> None:
    """Until the emulator has logged no request for ``quiet`` seconds (at most ``most``).

    A killed run's requests still in flight are logged when the emulator answers them, after
    its latency: counted in the next run's window they would be writes the next run never
    sent (seed 9002 of replace-safety: two POSTs of the killed replace "sent while refused")."""
    deadline = time.monotonic() + most
    seen, since = len(em.request_log), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.005)
        if len(em.request_log) != seen:
            seen, since = len(em.request_log), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def prepare_first(rng: Random, em: Emulator, project: Project) -> Setup:
    """A first generation of manifests next to unmanaged tasks, with no state file yet."""
    manifests = make_manifests(rng, rng.randint(6, 14))
    unmanaged = add_unmanaged(em, rng, rng.randint(1, 3))
    project.write(manifests, rng)
    change = Change(manifests=manifests, created=sorted(manifests))
    return Setup(em, project, change, unmanaged, Counter(create=len(manifests)))


def crash_faults(rng: Random, seed: int) -> Faults | None:
    """For some trials, lost answers and 5xx on top of the kills (journalled ambiguous creates)."""
    if rng.random() >= 0.3:
        return None
    return Faults(
        latency_ms=2.0,
        error_rate=0.1,
        commit_then_timeout_rate=0.1,
        hang_seconds=rng.choice([0.0, 0.8]),
        seed=seed,
    )


def crash_trial(seed: int, tmp: Path, kill_points: list[KillPoint] | None = None) -> None:
    """One crash trial (module docstring); raises AssertionError naming what broke.

    Variants, by seed: most kills are SIGKILL, some SIGINT or SIGTERM; the killed apply is the
    very first one (no state file yet) in a fifth of the trials; a world of several list pages
    in about one in eight; in three tenths the server also loses answers and fails requests
    meanwhile (then the re-run may take up to ``MAX_FAULT_RUNS`` runs); in half a new commit
    changes the manifests again before the re-run.
    """
    figures = campaign.figures("crash")
    rng = Random(seed)
    quiet = Faults(latency_ms=rng.choice([1.0, 2.0, 4.0]), jitter_ms=rng.choice([0.0, 3.0]))
    em = new_emulator(quiet)
    project = Project.create(tmp / "project")
    extra: tuple[str, ...] = ("--concurrency", rng.choice(["1", "4", "16"]), *UNLIMITED)
    first = rng.random() < 0.2
    with serve_emulator(em) as url:
        # Now and then a world of several list pages.
        size = (45, 80) if rng.random() < 0.15 else (8, 18)
        setup = (
            prepare_first(rng, em, project) if first else prepare(rng, em, project, url, size=size)
        )
        faults = crash_faults(rng, seed)
        history: list[str] = ["first-apply"] if first else []
        if faults is not None:
            em.faults = faults
            extra = (*extra, "--timeout", "0.5")
            history.append("faults")
        base = len(em.request_log)
        tasks = len(em.schedules())
        points = kill_points or [
            choose_kill(rng, setup.planned, tasks) for _ in range(rng.choice([1, 1, 2]))
        ]
        for i, point in enumerate(points):
            try:
                killed = run_and_kill(em, project, url, point, tmp / f"killed-{i}.log", extra)
            except AssertionError:
                figures.hangs += 1  # neither finished nor reached its kill point in time
                raise
            history.append(f"{point}:{'killed' if killed else 'finished'}")
            figures.runs += 1
            figures.kills += killed
        expected = setup.change.manifests
        if rng.random() < 0.5:
            # A new commit arrives before the re-run: it must converge to that one instead.
            expected = mutate(rng, expected, 2).manifests
            project.write(expected, rng)
            history.append("new-manifests")
        where = f"seed {seed}, {' '.join(extra)}, {history}, planned {dict(setup.planned)}"
        outputs: list[str] = []
        for run in range(1, (MAX_FAULT_RUNS if faults else 1) + 1):
            code, output = run_to_end(project, url, tmp / f"final-{run}.log", extra)
            outputs.append(f"--- re-run {run}: exit {code}\n{output}")
            figures.runs += 1
            figures.hangs += code == -signal.SIGKILL  # only run_to_end's timeout kills it
            if code == 0:
                break
        assert code == 0, f"{where}: the re-run after the kill failed:\n" + "\n".join(outputs)
        figures.max_runs_to_converge = max(figures.max_runs_to_converge, run)
        em.faults = quiet
        verdict = verify(em, project, expected, setup.unmanaged)
        check_plan_is_empty(project, url, where)
        _count(figures, em, base, setup.planned, verdict)
        killed_logs = [p.read_text("utf-8", "replace") for p in sorted(tmp.glob("killed-*.log"))]
        unclean = hygiene.check(
            figures,
            [*killed_logs, *outputs],
            em.request_log[base:],
            set(setup.unmanaged),
            [project.root],
        )
    assert not unclean, f"{where}: " + "; ".join(unclean)
    assert verdict.ok, f"{where}: {verdict.describe()}\n" + "\n".join(outputs)


def run_to_end(project: Project, url: str, log: Path, extra: tuple[str, ...]) -> tuple[int, str]:
    """One apply, not killed, with HTTP traffic logged (``--debug``): exit code and output."""
    with log.open("wb") as out:
        proc = spawn_apply(project, url, out, (*extra, "--debug"))
        try:
            code = proc.wait(timeout=KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    return code, log.read_text("utf-8", "replace")


def check_plan_is_empty(project: Project, url: str, where: str) -> None:
    after = invoke(project, url, ["plan", "--detailed-exitcode"], UNLIMITED)
    assert after.exit_code == 0, (
        f"{where}: the plan after convergence is not empty:\n{after.output}"
    )


def _count(
    figures: campaign.Figures, em: Emulator, base: int, planned: Counter[str], verdict: Verdict
) -> None:
    log = em.request_log[base:]
    figures.trials += 1
    figures.writes += len(writes(log))
    figures.requests += len(log)
    figures.faults.update(fault_counts(log))
    figures.actions.update(planned)
    figures.duplicates += sum(len(ids) - 1 for ids in verdict.duplicates.values())
    figures.losses += len(verdict.losses)


# -- fault campaign ---------------------------------------------------------------------------

FAULT_CLIENT = ("--timeout", "0.5", "--rate-limit", "40")


def fault_plan(seed: int) -> Faults:
    """The fault mix of issue 6: 20 % 5xx, 5 % commit-then-timeout, latency, jitter, rate limit."""
    rng = Random(seed * 7919 + 1)
    return Faults(
        latency_ms=rng.choice([1.0, 3.0]),
        jitter_ms=rng.choice([2.0, 5.0]),
        error_rate=0.2,
        commit_then_timeout_rate=0.05,
        # A hang longer than the client's --timeout, or (0) a dropped connection.
        hang_seconds=rng.choice([0.0, 0.8]),
        rate_limit=20.0,
        seed=seed,
    )


def fault_trial(
    seed: int, tmp: Path, faults: Faults | None = None, campaign_name: str = "fault"
) -> int:
    """One fault trial; returns how many apply runs it took to converge.

    Variants, by seed: the first apply of a project (no state file) in a fifth of the trials,
    a world of several list pages in another fifth.
    """
    figures = campaign.figures(campaign_name)
    rng = Random(seed)
    em = new_emulator()
    project = Project.create(tmp / "project")
    with serve_emulator(em) as url:
        variant = rng.random()
        if variant < 0.2:
            setup = prepare_first(rng, em, project)
        else:
            size = (45, 80) if variant < 0.4 else (10, 24)
            setup = prepare(rng, em, project, url, size=size)
        injected = faults or fault_plan(seed)
        em.faults = injected
        base = len(em.request_log)
        outputs: list[str] = []
        runs = 0
        for runs in range(1, MAX_FAULT_RUNS + 1):
            result = invoke(
                project, url, ["apply", "--auto-approve", "--allow-mass-delete"], FAULT_CLIENT
            )
            outputs.append(f"--- run {runs}: exit {result.exit_code}\n{result.output}")
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                # In-process, an escaped exception ends in exit 1 too: count it as a traceback.
                outputs.append(f"{hygiene.TRACEBACK} (in-process): {result.exception!r}")
            assert result.exit_code in (0, 1), "\n".join(outputs)
            if result.exit_code == 0:
                break
        figures.runs += runs
        figures.max_runs_to_converge = max(figures.max_runs_to_converge, runs)
        em.faults = Faults()
        verdict = verify(em, project, setup.change.manifests, setup.unmanaged)
        where = f"seed {seed}, {injected}, runs {runs}"
        _count(figures, em, base, setup.planned, verdict)
        unclean = hygiene.check(
            figures, outputs, em.request_log[base:], set(setup.unmanaged), [project.root]
        )
        assert not unclean, f"{where}: " + "; ".join(unclean)
        assert result.exit_code == 0, f"{where}: no convergence in {MAX_FAULT_RUNS} runs:\n" + (
            "\n".join(outputs)
        )
        check_plan_is_empty(project, url, where)
    assert verdict.ok, f"{where}: {verdict.describe()}\n" + "\n".join(outputs)
    return runs


# -- churn campaign ---------------------------------------------------------------------------

CHURN_SEEDED = "churn_pre"  # deletable by the churn fault (its prefix is the emulator's churn_)


def churn_trial(seed: int, tmp: Path, campaign_name: str = "churn") -> None:
    """Unmanaged tasks come and go while the list is paged (``Faults.churn_per_page``).

    1. No change: the plan reports no managed task missing, deleted or to be created, and apply
       writes nothing.
    2. Updates and creates still go through, and converge.
    3. One manifest removed while every list read is inconsistent (one churn per page changes
       the total between any two pages): the plan shows the violation and exits 1, apply exits 1
       and sends no DELETE; with the churn gone, the delete goes through.
    """
    figures = campaign.figures(campaign_name)
    rng = Random(seed)
    em = new_emulator()
    project = Project.create(tmp / "project")
    manifests = make_manifests(rng, rng.randint(52, 75))
    names = sorted(manifests)
    half = {n: manifests[n] for n in names[: len(names) // 2]}
    with serve_emulator(em) as url:
        # Churn-deletable tasks before, between and after the managed ones, so that deleting
        # one shifts managed tasks across page boundaries.
        for part in (half, manifests):
            for i in range(rng.randint(4, 12)):
                em.add_schedule(make_body(rng, f"{CHURN_SEEDED}_{len(part)}_{i}"))
            project.write(part, rng)
            result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
            assert result.exit_code == 0, result.output
        unmanaged = add_unmanaged(em, rng, 2)
        base = len(em.request_log)
        churn = Faults(churn_per_page=rng.randint(1, 4), seed=seed)
        where = f"seed {seed}, {churn}"

        # 1. nothing changed
        em.faults = churn
        churned = 0
        result = invoke(
            project, url, ["plan", "--format", "json", "--detailed-exitcode"], UNLIMITED
        )
        assert result.exit_code == 0, f"{where}: {result.output}"
        kinds = Counter(a["kind"] for a in json.loads(result.stdout)["actions"])
        assert set(kinds) <= {"unmanaged"}, f"{where}: {kinds}"
        start = len(em.request_log)
        result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
        assert result.exit_code == 0, f"{where}: {result.output}"
        assert writes(em.request_log[start:]) == [], f"{where}: apply wrote under churn"

        # 2. updates go through under churn; creates wait for a read that adds up (a task of
        #    the same name the churned read missed would make a create a duplicate)
        change = dict(manifests)
        for name in rng.sample(names, 3):
            change[name] = edited(rng, manifests[name], 1)
        project.write(change, rng)
        result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
        assert result.exit_code == 0, f"{where}: {result.output}"
        for i in range(2):
            change[f"late_{i}"] = make_body(rng, f"late_{i}", 1)
        project.write(change, rng)
        start = len(em.request_log)
        result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
        posts = [r for r in writes(em.request_log[start:]) if r.method == "POST"]
        if result.exit_code != 0:
            assert "incomplete inventory" in result.output, f"{where}: {result.output}"
            assert posts == [], f"{where}: created on a read that did not add up"
        churned += churn.churn_per_page * len(list_reads(em.request_log[base:]))
        em.faults = Faults()
        result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
        assert result.exit_code == 0, f"{where}: {result.output}"
        verdict = verify(em, project, change, unmanaged)
        assert verdict.ok, f"{where}: {verdict.describe()}"

        # 3. an unresolvable read blocks deletes
        victim = rng.choice(names)
        remaining = {n: b for n, b in change.items() if n != victim}
        project.write(remaining, rng)
        em.faults = Faults(churn_per_page=1, seed=seed)
        start = len(em.request_log)
        result = invoke(project, url, ["plan"], UNLIMITED)
        assert result.exit_code == 1, f"{where}: {result.output}"
        assert "incomplete inventory" in result.output, result.output
        assert repr(victim) in result.output, result.output
        result = invoke(project, url, ["apply", "--auto-approve", "--allow-mass-delete"], UNLIMITED)
        assert result.exit_code == 1, f"{where}: {result.output}"
        assert "incomplete inventory" in result.output, result.output
        assert writes(em.request_log[start:]) == [], f"{where}: apply wrote on a partial read"
        churned += len(list_reads(em.request_log[start:]))
        assert any(t["name"] == victim for t in em.schedules()), f"{where}: {victim} deleted"
        em.faults = Faults()
        result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
        assert result.exit_code == 0, f"{where}: {result.output}"
        verdict = verify(em, project, remaining, unmanaged)
        assert verdict.ok, f"{where}: {verdict.describe()}"

        # 4. a crash left journalled creates, some of them done, while tasks come and go
        final, runs, churn_ops = crashed_creates_under_churn(
            em, project, url, rng, remaining, unmanaged
        )
        churned += churn_ops
        verdict = verify(em, project, final, unmanaged)
        figures.runs += 7 + runs
        _count(
            figures,
            em,
            base,
            Counter(update=3, create=2 + len(final) - len(remaining), delete=1),
            verdict,
        )
        figures.faults["churn"] += churned  # tasks created or deleted between list pages
    assert verdict.ok, f"{where}: {verdict.describe()}"


def crashed_creates_under_churn(
    em: Emulator,
    project: Project,
    url: str,
    rng: Random,
    manifests: dict[str, Body],
    unmanaged: dict[str, Body],
) -> tuple[dict[str, Body], int, int]:
    """Journalled creates (the state a kill after the POSTs leaves), healed under list churn.

    Each new manifest's create was done before the kill, or never left, or someone else made
    a task of that name meanwhile (a conflict: it must never get a second task; it is added to
    ``unmanaged``). Churn-deletable tasks fill the list up so that the first new task is often
    the first of a page: a churn delete before it then moves it onto a page already read while
    a churn create keeps the total unchanged. Every run under churn may refuse (exit 1: the
    journal cannot be resolved from a read that does not add up) but must never create a
    second task of a name. Returns the manifests apply must realise, the runs made and the
    churn operations.
    """
    if rng.random() < 0.7:
        for i in range(-len(em.schedules()) % PAGE_SIZE):
            em.add_schedule(make_body(rng, f"{CHURN_SEEDED}_fill_{i}"))
    store = project.store()
    state = store.load()
    final = dict(manifests)
    written = dict(manifests)
    # Half the trials have no journal at all: only the conflict rule stands between a new
    # manifest and a second task of a name someone else already uses.
    fates = ["done", "done", "lost", "foreign"] if rng.random() < 0.5 else ["foreign"]
    for i in range(rng.randint(1, 3)):
        name = f"fresh_{i}"
        written[name] = make_body(rng, name, 3)
        fate = rng.choice(fates)
        if fate == "foreign":
            sid = em.add_schedule(make_body(rng, name, 4))
            unmanaged[sid] = next(t for t in em.schedules() if t["schedule_id"] == sid)
            continue
        final[name] = written[name]
        if fate == "done":
            em.add_schedule(final[name])  # the POST went through before the kill
        state = st.begin_pending(state, "create", name, canonical.fingerprint(final[name]), NOW)
    store.save(state)
    project.write(written, rng)
    churn = Faults(churn_per_page=rng.choice([2, 4]), seed=rng.randrange(10**6))
    em.faults = churn
    start = len(em.request_log)
    runs = 0
    for runs in range(1, 4):
        result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
        assert result.exit_code in (0, 1), result.output
        names = Counter(t["name"] for t in em.schedules() if not t["name"].startswith("churn_"))
        doubled = [n for n, k in names.items() if k > 1]
        assert not doubled, f"{churn}: duplicates {doubled} after run {runs}:\n{result.output}"
        if result.exit_code == 0:
            break
    churn_ops = churn.churn_per_page * len(list_reads(em.request_log[start:]))
    em.faults = Faults()
    result = invoke(project, url, ["apply", "--auto-approve"], UNLIMITED)
    assert result.exit_code == 0, result.output
    return final, runs + 1, churn_ops
