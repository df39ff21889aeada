"""The panel's connection to the daemon: one worker thread owns the ZeroMQ socket (sockets are
not thread-safe), takes commands from a queue and reports through Qt signals, which Qt delivers
in the interface thread. Nothing here ever blocks the interface.

When no daemon answers on a local address, the link starts one (`python -m mfmjt_core serve`
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

from PySide6.QtCore import QObject, Signal

from mfmjt_daemon.client import Client, DaemonError
from mfmjt_daemon.protocol import DEFAULT_ADDRESS, is_local_endpoint

PROBE_TIMEOUT_S = 1.0
START_TIMEOUT_S = 120.0  # importing torch and loading a model on a slow machine


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
        client: Client | None = None
        hello = self._connect()
        if hello is not None:
            client = Client(self.address)
        while True:
            try:
                command = self._commands.get(timeout=0.05)
            except queue.Empty:
                command = None
            if command is not None:
                kind = command[0]
                if kind == "stop":
                    break
                if kind == "connect" and client is None:
                    if self._connect() is not None:
                        client = Client(self.address)
                elif kind == "submit":
                    self._submit(client, *command[1:])
                elif kind == "cancel" and client is not None:
                    self._cancel(client, command[1])
            if client is not None:
                for event in client.poll(0):
                    self._report(event)
        if client is not None:
            client.close()

    def _submit(self, client: Client | None, job: str, video: str | None, params: dict) -> None:
        if client is None:
            self.failed.emit(job, "unavailable", f"no daemon at {self.address}")
            return
        try:
            client.submit(video, job=job, **params)
        except (ValueError, OSError) as exc:
            self.failed.emit(job, "bad_request", str(exc))

    def _cancel(self, client: Client, job: str) -> None:
        try:
            client.cancel(job)  # the job's error event (code "cancelled") follows through poll
        except DaemonError as exc:
            self.failed.emit(job, exc.code, exc.message)

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
        argv = [self.autostart.python, "-m", "mfmjt_core", "serve", "--port", port, *self.autostart.serve_arguments]
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
