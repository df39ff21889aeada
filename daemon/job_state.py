"""What an editor tells its user about one job, and when to give up on a silent daemon.

Standard library only: the panel, the Blender add-on (vendored beside client.py) and the Resolve
script share it, so every client says the same true thing. The phases:

    queued -> encoding -> sampling -> decoding -> done
    any of those -> cancelling (the user asked) -> cancelled (the daemon confirmed)
    any -> failed(reason)

"cancelling" stays until the daemon's answer: progress still arriving meanwhile is not shown as
if the job were going on. A failure names its cause in words a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

QUEUED, ENCODING, SAMPLING, DECODING = "queued", "encoding", "sampling", "decoding"
DONE, CANCELLING, CANCELLED, FAILED = "done", "cancelling", "cancelled", "failed"
FINISHED = frozenset({DONE, CANCELLED, FAILED})

# The daemon's stage names (the generator's progress callback) and the phase each belongs to.
PHASE_OF_STAGE = {
    "queued": QUEUED,
    "starting": ENCODING, "decode": ENCODING, "encode": ENCODING,
    "sample": SAMPLING,
    "decode_audio": DECODING, "resample": DECODING,
}

YOU_CANCELLED = "you cancelled"
SHUT_DOWN = "the daemon shut down"
STOPPED_ANSWERING = "the daemon stopped answering"
RESTARTED = "the daemon restarted and lost the job"
OUT_OF_MEMORY = "out of memory"
BAD_MEDIA = "bad media"
UNREACHABLE = "no daemon answers"

# Wire error codes (daemon/protocol.py, mfmjt_core/errors.py, client.py) -> the reason shown.
REASON_OF_CODE = {
    "cancelled": YOU_CANCELLED,
    "shutting_down": SHUT_DOWN,
    "unavailable": STOPPED_ANSWERING,
    "unreachable": UNREACHABLE,  # nothing answered before the request was sent
    "restarted": RESTARTED,
    "resource": OUT_OF_MEMORY,
    "bad_media": BAD_MEDIA,
}


def reason_for(code: str, message: str = "") -> str:
    """The cause of a failure in a few words (the daemon's message follows it in `text`); for
    a code without a short name, the daemon's own message."""
    if code in REASON_OF_CODE:
        return REASON_OF_CODE[code]
    if "out of memory" in message.lower():
        return OUT_OF_MEMORY
    return message or code.replace("_", " ") or "error"


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"


class JobState:
    """One job as the user sees it; feed it the client's events, read `phase` and `text(now)`.
    Times are the caller's monotonic clock, so tests drive it without sleeping."""

    def __init__(self, job: str, now: float) -> None:
        self.job = job
        self.phase = QUEUED
        self.stage = "queued"
        self.fraction = 0.0
        self.position: int | None = None  # place in the daemon's queue
        self.reason: str | None = None  # why it failed or was cancelled
        self.detail = ""  # the daemon's own words, shown in full after the reason
        self.submitted_at = now
        self.finished_at: float | None = None
        self._eta_anchor: tuple[float, float] | None = None  # (time, seconds left) from the daemon

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    # ---- events -------------------------------------------------------------------------------

    def on_progress(self, stage: str, fraction: float, eta_s: float | None, now: float,
                    position: int | None = None) -> None:
        if self.finished:
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        moved = fraction != self.fraction or stage != self.stage
        if moved or self._eta_anchor is None:
            # A keep-alive repeats the last report with a longer elapsed time, and the daemon's
            # estimate then grows; only a report of the current stage that moved resets the
            # count-down (a new stage without an estimate shows none rather than a stale one).
            self._eta_anchor = None if eta_s is None else (now, float(eta_s))
        self.stage, self.fraction, self.position = stage, fraction, position
        if self.phase != CANCELLING:  # cancelling stays until the daemon confirms
            self.phase = PHASE_OF_STAGE.get(stage, SAMPLING if self.phase == QUEUED else self.phase)

    def on_result(self, now: float) -> None:
        if not self.finished:  # a result that beat the cancel is still a result
            self.phase, self.fraction, self.finished_at = DONE, 1.0, now

    def on_error(self, code: str, message: str, now: float) -> None:
        if self.finished:
            return
        self.reason, self.detail, self.finished_at = reason_for(code, message), message, now
        self.phase = CANCELLED if code == "cancelled" else FAILED

    def request_cancel(self, now: float) -> bool:
        """The user asked to cancel; False when there is nothing left to cancel."""
        if self.finished:
            return False
        self.phase = CANCELLING
        return True

    def on_lost(self, now: float, detail: str = "") -> None:
        """The heartbeat gave up: nothing heard for Heartbeat.give_up_s."""
        self.on_error("unavailable", detail, now)

    # ---- what to show -----------------------------------------------------------------------

    def eta(self, now: float) -> float | None:
        """Seconds left: the estimate that came with the current stage's latest report that moved,
        counted down since. None when unknown."""
        if self.phase not in (ENCODING, SAMPLING, DECODING):
            return None
        if self._eta_anchor is not None:
            return max(0.0, self._eta_anchor[1] - (now - self._eta_anchor[0]))
        return None

    def text(self, now: float) -> str:
        """One full line for a status label; never abbreviated."""
        if self.phase == QUEUED:
            where = "" if not self.position else f" (position {self.position})"
            return f"queued{where}"
        if self.phase in (ENCODING, SAMPLING, DECODING):
            eta = self.eta(now)
            left = "" if eta is None else (", finishing" if eta < 0.5 else f", about {format_seconds(eta)} left")
            return f"{self.phase} {round(self.fraction * 100)} %{left}"
        if self.phase == CANCELLING:
            return "cancelling, waiting for the daemon to confirm"
        if self.phase == DONE:
            return "done"
        if self.phase == CANCELLED:
            return f"cancelled: {self.reason}"
        detail = f" ({self.detail})" if self.detail and self.detail != self.reason else ""
        return f"failed: {self.reason}{detail}"


@dataclass(frozen=True)
class Heartbeat:
    """When a client pings a quiet daemon and when it stops waiting. The daemon sends progress
    for running jobs every `heartbeat_s` (2 s by default) and answers pings at once, so 4 s of
    silence with a ping sent after the first second means it is gone or hung."""

    ping_after_s: float = 1.0
    give_up_s: float = 4.0

    def action(self, now: float, heard_at: float, pinged_at: float | None) -> str | None:
        """"give_up", "ping" or None, from the time the daemon was last heard and the last ping."""
        silent = now - heard_at
        if silent >= self.give_up_s:
            return "give_up"
        if silent >= self.ping_after_s and (pinged_at is None or now - pinged_at >= self.ping_after_s):
            return "ping"
        return None


class JobWatch:
    """The JobStates of one client's jobs plus its heartbeat. Call `feed` with what
    `client.poll()` returned and `tick` on every timer round; both only read the client's
    public surface (heard_at, ping_nowait, cancel_nowait, give_up), so this module stays free of
    pyzmq and each editor runs it on its own timer or thread."""

    def __init__(self, heartbeat: Heartbeat = Heartbeat()) -> None:
        self.heartbeat = heartbeat
        self.jobs: dict[str, JobState] = {}
        self.pinged_at: float | None = None
        self.lost = False  # the last heartbeat gave up (cleared when the daemon is heard again)
        self._lost_at = 0.0
        self._tracked_at = 0.0  # when the first of the current jobs was tracked
        self._watch_from = 0.0  # when silence starts to count if the daemon has not spoken since

    def mark_lost(self, client) -> None:
        """Nothing answers yet (e.g. at start-up): keep pinging until something does."""
        self.lost, self._lost_at = True, client.heard_at

    def track(self, job: str, now: float, startup_s: float = 0.0) -> JobState:
        """Follow a job. startup_s: the daemon is only being started (loading its model): silence
        counts only after that long, or from its first word, whichever comes first."""
        if not self.active():  # silence before there was anything to wait for does not count
            self._tracked_at, self._watch_from = now, now + startup_s
        self.jobs[job] = JobState(job, now)
        return self.jobs[job]

    def active(self) -> list[JobState]:
        return [s for s in self.jobs.values() if not s.finished]

    def feed(self, events, now: float) -> list[JobState]:
        """Apply the client's events; returns the states that changed."""
        changed = []
        for event in events:
            state = self.jobs.get(event.job)
            if state is None:
                continue
            if event.kind == "progress" and event.progress is not None:
                p = event.progress
                state.on_progress(p.stage, p.fraction, p.eta_s, now, p.position)
            elif event.kind == "result":
                state.on_result(now)
            elif event.kind == "error" and event.error is not None:
                state.on_error(event.error.code, event.error.message, now)
            changed.append(state)
        return changed

    def cancel(self, client, job: str, now: float) -> bool:
        """Ask the daemon to cancel without waiting; the state says "cancelling" until it answers."""
        state = self.jobs.get(job)
        if state is None or not state.request_cancel(now):
            return False
        client.cancel_nowait(job)
        return True

    def tick(self, client, now: float, *, idle_too: bool = False) -> str | None:
        """Ping a quiet daemon, give up on a silent one: while jobs are unfinished, or always with
        `idle_too` (a window whose daemon line must stay true). After giving up it keeps pinging
        through the fresh socket, so a daemon that comes back is heard (`lost` turns False).
        `now` is time.monotonic(). Returns the action taken: "ping", "give_up" or None."""
        if self.lost and client.heard_at > self._lost_at:
            self.lost = False
        if not (self.active() or idle_too or self.lost):
            return None
        heard = client.heard_at if client.heard_at > self._tracked_at else max(client.heard_at, self._watch_from)
        action = self.heartbeat.action(now, heard, self.pinged_at)
        if action == "ping":
            client.ping_nowait()
            self.pinged_at = now
        elif action == "give_up":
            client.give_up(f"{STOPPED_ANSWERING}: nothing heard for {self.heartbeat.give_up_s:g} s")
            for state in self.active():
                state.on_lost(now, f"nothing heard for {self.heartbeat.give_up_s:g} s")
            self.lost, self._lost_at, self.pinged_at = True, client.heard_at, None
        return action


def follow(client, job: str, watch: JobWatch, on_change, *, poll_s: float = 0.1, clock=None) -> JobState:
    """Wait for one submitted job as a blocking script does (the Resolve script, its bridge):
    poll, feed, keep the heartbeat, and call on_change(state, now) whenever the line to show
    changes. Returns the finished state; the client's Job holds the result."""
    import time

    clock = clock or time.monotonic
    state = watch.jobs.get(job) or watch.track(job, clock())
    shown = None
    while not state.finished:
        events = client.poll(poll_s)
        now = clock()
        for event in events:
            watch.feed([event], now)
            if event.job == job and state.text(now) != shown:
                shown = state.text(now)
                on_change(state, now)
        watch.tick(client, now)
        if state.text(now) != shown:
            shown = state.text(now)
            on_change(state, now)
    return state
