"""The panel's connection to the daemon: one worker thread owns the ZeroMQ socket (sockets are
not thread-safe), takes commands from a queue and reports through Qt signals, which Qt delivers
in the interface thread. Nothing here ever blocks the interface.

The worker keeps one JobState per job (mfmjt_daemon.job_state, shared with the other editors)
and a heartbeat: a daemon that goes silent is noticed within 5 s, its jobs are reported failed
with that reason, and the requests they sent die with the old socket, so none of them runs when
the daemon comes back. Pings go on meanwhile; the first answer reconnects the panel.

When no daemon answers on a local address, the link starts one (`python -m mfmjt_cli serve`
with this interpreter) and stops it again when the panel closes.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from mfmjt_daemon.client import Client, DaemonError
from mfmjt_daemon.job_state import SHUT_DOWN, STOPPED_ANSWERING, JobState, JobWatch
from mfmjt_daemon.protocol import DEFAULT_ADDRESS, is_local_endpoint
from PySide6.QtCore import QObject, Signal

PROBE_TIMEOUT_S = 1.0
START_TIMEOUT_S = 120.0  # importing torch and loading a model on a slow machine
REFRESH_S = 0.5  # re-send running jobs' state this often, so the time left counts down


@dataclass(frozen=True)
class AutoStart:
    """How to start a local daemon when none answers (None in DaemonLink: never)."""

    serve_arguments: tuple[str, ...] = ()  # e.g. ("--model", "tiny-random")
    python: str = sys.executable


class DaemonLink(QObject):
    """Signals carry job ids; `submit` returns the id at once."""

    connected = Signal(dict)  # the daemon's hello
    unavailable = Signal(str)  # why no daemon can be reached
    status = Signal(str)  # human-readable state ("starting a local daemon ...")
    progress = Signal(str, str, float, object)  # job, stage, fraction, eta_s or None
    finished = Signal(str, object)  # job, Result
    failed = Signal(str, str, str)  # job, code, message
    job_changed = Signal(str, str, str, float)  # job, phase, the full line to show, fraction

    def __init__(self, address: str | None = None, autostart: AutoStart | None = AutoStart(),
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.address = address or DEFAULT_ADDRESS
        self.autostart = autostart if is_local_endpoint(self.address) and self.address.startswith("tcp://") else None
        self.started_process: subprocess.Popen | None = None
        self._commands: queue.Queue = queue.Queue()
        self._ids = 0
        self._thread = threading.Thread(target=self._run, name="mfmjt-daemon-link", daemon=True)

    def start(self) -> None:
        """Start the worker (connect signals first: it reports at once). Idempotent."""
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    # ---- interface thread -------------------------------------------------------------------

    def submit(self, video: str | None, **params: Any) -> str:
        """Queue a generate request; returns its job id (signals follow)."""
        self._ids += 1
        job = f"panel-{int(time.time() * 1000):x}-{self._ids}"
        self._commands.put(("submit", job, video, params))
        return job

    def cancel(self, job: str) -> None:
        self._commands.put(("cancel", job))

    def reconnect(self) -> None:
        self._commands.put(("connect",))

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker (its jobs die with the socket) and a daemon this link started."""
        self._commands.put(("stop",))
        if self._thread.ident is not None:
            self._thread.join(timeout)
        if self.started_process is not None and self.started_process.poll() is None:
            self.started_process.terminate()
            try:
                self.started_process.wait(10)
            except subprocess.TimeoutExpired:
                self.started_process.kill()

    # ---- worker thread ----------------------------------------------------------------------

    def _run(self) -> None:
        watch = JobWatch()
        hello = self._connect()
        client = Client(self.address)  # even when nobody answers: its pings find a daemon that starts
        if hello is None:
            watch.mark_lost(client)
        shut_down = False  # the daemon said it was shutting down before it went silent
        refreshed = 0.0
        while True:
            try:
                command = self._commands.get(timeout=0.05)
            except queue.Empty:
                command = None
            now = time.monotonic()
            if command is not None:
                kind = command[0]
                if kind == "stop":
                    break
                if kind == "connect" and watch.lost and self._connect() is not None:
                    watch.lost = False
                elif kind == "submit":
                    self._submit(client, watch, *command[1:])
                elif kind == "cancel" and watch.cancel(client, command[1], now):
                    self._tell(watch.jobs[command[1]], now)
            events = client.poll(0)
            shut_down = shut_down or any(e.kind == "error" and e.error.code == "shutting_down" for e in events)
            for event in events:  # one at a time: every phase a batch went through is told
                for state in watch.feed([event], now):
                    self._tell(state, now)
            for event in events:
                self._report(event)
            was_lost = watch.lost
            if watch.tick(client, now, idle_too=True) == "give_up":
                for state in watch.jobs.values():
                    if state.finished_at == now:
                        self._tell(state, now)
                if not was_lost:
                    why = (
                        SHUT_DOWN
                        if shut_down
                        else f"{STOPPED_ANSWERING} (nothing heard for {watch.heartbeat.give_up_s:g} s)"
                    )
                    self.unavailable.emit(f"{why}; waiting for it to come back")
            if was_lost and not watch.lost:  # heard again
                shut_down = False
                hello = self._probe()
                if hello is not None:
                    self.connected.emit(hello)
            if now - refreshed >= REFRESH_S:
                refreshed = now
                for state in watch.active():
                    self._tell(state, now)
            watch.jobs = {k: v for k, v in watch.jobs.items() if not v.finished or now - v.finished_at < 60}
        client.close()

    def _tell(self, state: JobState, now: float) -> None:
        self.job_changed.emit(state.job, state.phase, state.text(now), state.fraction)

    def _submit(self, client: Client, watch: JobWatch, job: str, video: str | None, params: dict) -> None:
        now = time.monotonic()
        state = watch.track(job, now)
        if watch.lost:  # never queue a request for a daemon that may come back much later
            message = f"no daemon answers at {self.address}; start one with `mfmjt serve`"
            state.on_error("unreachable", f"at {self.address}; start one with `mfmjt serve`", now)
            self._tell(state, now)
            self.failed.emit(job, "unavailable", message)
            return
        try:
            client.submit(video, job=job, **params)
        except (ValueError, OSError) as exc:
            state.on_error("bad_request", str(exc), now)
            self._tell(state, now)
            self.failed.emit(job, "bad_request", str(exc))
            return
        self._tell(state, now)

    def _report(self, event) -> None:
        if event.kind == "progress" and event.progress is not None:
            p = event.progress
            self.progress.emit(event.job, p.stage, p.fraction, p.eta_s)
        elif event.kind == "result":
            self.finished.emit(event.job, event.result)
        elif event.kind == "error" and event.error is not None:
            self.failed.emit(event.job, event.error.code, event.error.message)

    def _probe(self) -> dict | None:
        with Client(self.address, timeout=PROBE_TIMEOUT_S, retries=0) as probe:
            try:
                return probe.hello()
            except DaemonError:
                return None

    def _connect(self) -> dict | None:
        self.status.emit(f"connecting to {self.address} ...")
        hello = self._probe()
        if hello is None and self.autostart is not None:
            hello = self._start_daemon()
        if hello is None:
            self.unavailable.emit(f"no daemon answers at {self.address}; start one with `mfmjt serve`")
        else:
            self.connected.emit(hello)
        return hello

    def _start_daemon(self) -> dict | None:
        port = self.address.rpartition(":")[2]
        argv = [self.autostart.python, "-m", "mfmjt_cli", "serve", "--port", port, *self.autostart.serve_arguments]
        self.status.emit("starting a local daemon (loading the model) ...")
        try:
            self.started_process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL)
        except OSError as exc:
            self.status.emit(f"cannot start a daemon: {exc}")
            return None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.started_process.poll() is None:
            if not self._commands.empty() and self._commands.queue[0][0] == "stop":
                return None
            hello = self._probe()
            if hello is not None:
                return hello
        return None
