"""The daemon: one ROUTER socket, a bounded fair job queue, one worker thread per device.

The I/O loop runs in the thread that calls `serve_forever` and owns the socket; workers report
through a thread-safe deque plus a wake-up pipe the loop polls beside the socket. Every request
is answered, malformed ones with an error; nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zmq
from mfmjt_daemon import protocol
from mfmjt_daemon.intake import IntakeLimits, build_request, fingerprint
from mfmjt_daemon.jobs import Answer, AnswerCache, FairQueue, GeneratorLike, Job, QueueFull, Worker
from mfmjt_daemon.keys import KeysError, ServerKeys, apply_server_keys, start_authenticator
from mfmjt_daemon.local_token import ensure_token
from mfmjt_daemon.protocol import is_local_endpoint
from mfmjt_daemon.uploads import Uploads

from mfmjt_core import __version__
from mfmjt_core.pipeline.types import GenerationResult

log = logging.getLogger("mfmjt_daemon.server")


@dataclass(frozen=True)
class ServerConfig:
    """How the daemon listens and what it accepts."""

    bind: str = protocol.DEFAULT_ADDRESS
    keys: ServerKeys | None = None  # CURVE; required unless `bind` is loopback or ipc
    max_message_bytes: int = 512 * 2**20  # libzmq drops bigger messages before we see them
    max_queue: int = 64  # waiting jobs, all clients together
    max_queue_per_client: int = 16  # waiting jobs of one client
    job_timeout_s: float = 3600.0  # a running job is stopped (error `time_limit`) after this
    reconnect_grace_s: float = 30.0  # a vanished client's jobs are kept this long for its return
    max_seconds: float = 600.0  # longest text duration or video range accepted
    max_result_bytes: int = 2**30  # variations x channels x samples x 4
    heartbeat_s: float = 2.0  # keepalive events per job, and ZMTP heartbeats
    result_ttl_s: float = 120.0  # answers kept for re-sent requests
    result_cache_bytes: int = 256 * 2**20
    allow_paths: bool | None = None  # accept `video_path`; None: only on a local bind
    shutdown_grace_s: float = 10.0  # wait this long for running jobs to stop
    # Without CURVE keys every request must carry the token of this file (protocol.token_path()
    # when None), so only the user who can read it (the daemon's own) gets served.
    token_file: Path | None = None


_FREED = "the client went away; stopped to free the worker"


def _who(client: bytes) -> str:
    """Short name of a connection for the log (the tail: routing ids often share a prefix)."""
    return client.hex()[-8:]


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class Server:
    """The MF-MJT daemon. `generators`: one loaded model per worker (one per device)."""

    def __init__(self, generators: Sequence[GeneratorLike], config: ServerConfig = ServerConfig(),
                 *, context: zmq.Context | None = None) -> None:
        if not generators:
            raise ValueError("the daemon needs at least one generator")
        if config.keys is None and not is_local_endpoint(config.bind):
            raise KeysError(f"refusing to listen on {config.bind} without CURVE keys: only loopback "
                            "(127.0.0.1, ::1, localhost) and ipc:// binds may run without them; "
                            "run `mfmjt keys init` and pass --keys")
        self.config = config
        for generator in generators:  # one duration limit: what intake accepts, the pipeline runs
            if hasattr(generator, "max_duration"):
                generator.max_duration = config.max_seconds
        self.instance = secrets.token_hex(8)
        self.allow_paths = is_local_endpoint(config.bind) if config.allow_paths is None else config.allow_paths
        self._context = context or zmq.Context.instance()
        self._queue = FairQueue(config.max_queue, config.max_queue_per_client)
        self._workers = [Worker(i, g, self._queue, self._emit) for i, g in enumerate(generators)]
        self._models = _json_safe([g.describe() for g in generators])
        self._events: deque[tuple[Any, ...]] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._active: dict[tuple[bytes, str], Job] = {}
        self._away: dict[bytes, float] = {}  # vanished clients -> when their jobs are given up
        self._answers = AnswerCache(config.result_cache_bytes, config.result_ttl_s)
        self._counts = {"completed": 0, "failed": 0, "cancelled": 0, "rejected": 0}
        self._limits = IntakeLimits(config.max_seconds, config.max_result_bytes, self.allow_paths)
        # CURVE authenticates remote clients; local binds check the token file's secret instead.
        self._token = ensure_token(config.token_file).encode() if config.keys is None else None
        self._uploads = Uploads()
        self._socket: zmq.Socket | None = None
        self._auth = None
        self._stop_requested = False
        self._started_at = time.monotonic()
        self.endpoint: str | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and start the workers; returns the bound endpoint."""
        sock = self._context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sends to vanished clients raise
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client keeps its routing id
        sock.setsockopt(zmq.MAXMSGSIZE, self.config.max_message_bytes)
        ivl = max(100, int(self.config.heartbeat_s * 1000))
        sock.setsockopt(zmq.HEARTBEAT_IVL, ivl)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * ivl)
        if self.config.keys is not None:
            self._auth = start_authenticator(self._context, self.config.keys)
            apply_server_keys(sock, self.config.keys)
        sock.setsockopt(zmq.IPV6, int(protocol.names_ipv6(self.config.bind)))
        try:
            if protocol.ipc_in_use(self.config.bind):
                raise zmq.ZMQError(msg="another process listens there (a daemon already running?)")
            sock.bind(self.config.bind)
        except zmq.ZMQError as exc:
            sock.close(0)
            self._stop_auth()
            self._uploads.remove()
            raise OSError(f"cannot listen on {self.config.bind}: {exc}") from None
        self._socket = sock
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        for worker in self._workers:
            worker.start()
        log.info("listening on %s (protocol %d, %d worker(s), CURVE %s, paths %s)", self.endpoint,
                 protocol.PROTOCOL_VERSION, len(self._workers),
                 "on" if self.config.keys else "off", "allowed" if self.allow_paths else "refused")
        return self.endpoint

    def request_stop(self) -> None:
        """Ask the loop to shut down; safe from signal handlers and other threads."""
        self._stop_requested = True
        self._wake()

    def serve_forever(self) -> None:
        """Answer requests until `request_stop`; then shut down cleanly."""
        if self._socket is None:
            self.start()
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_beat = time.monotonic() + self.config.heartbeat_s
        try:
            while not self._stop_requested:
                self._loop_once(poller, next_beat)
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + self.config.heartbeat_s
            self._shutdown(poller)
        finally:
            self._close()

    def _loop_once(self, poller: zmq.Poller, deadline: float) -> None:
        wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
        ready = dict(poller.poll(wait_ms))
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._wake_r, 4096):
                    pass
        self._drain_events()
        if self._socket in ready:
            for _ in range(64):  # then let worker events through again
                try:
                    frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._handle(frames)

    def _shutdown(self, poller: zmq.Poller) -> None:
        log.info("shutting down: answering %d queued job(s), stopping %d running",
                 len(self._queue), sum(j.state == "running" for j in self._active.values()))
        parked = [j for j in self._active.values() if j.state == "parked"]
        for job in [*self._queue.close(), *parked]:
            job.cancel(protocol.SHUTTING_DOWN)
            self._finish_failed(job, protocol.SHUTTING_DOWN, "the daemon is shutting down; submit again later",
                                send=job.state != "parked")
        for job in list(self._active.values()):
            job.cancel(protocol.SHUTTING_DOWN, "the daemon is shutting down; submit again later")
        deadline = time.monotonic() + self.config.shutdown_grace_s
        while self._active and time.monotonic() < deadline:
            self._loop_once(poller, min(deadline, time.monotonic() + 0.1))
        for job in list(self._active.values()):  # a generator that ignored the cancel
            log.warning("job %s did not stop within %.0f s", job.id, self.config.shutdown_grace_s)
            self._finish_failed(job, protocol.SHUTTING_DOWN, "the daemon is shutting down")
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=1000)  # let the last answers leave
            self._socket = None
        self._stop_auth()
        for job in self._active.values():
            job.discard_temp_file()
        self._uploads.remove()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        log.info("stopped")

    def _stop_auth(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

    # ---- worker events ----------------------------------------------------------------------

    def _emit(self, event: tuple[Any, ...]) -> None:
        self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def _drain_events(self) -> None:
        while self._events:
            kind, job, *rest = self._events.popleft()
            if self._active.get(job.key) is not job:
                continue  # already answered (cancelled while queued, shut down)
            try:
                if kind == "progress":
                    self._send_progress(job, *rest)
                elif kind == "done":
                    self._finish_done(job, rest[0])
                elif rest[0] == protocol.CLIENT_GONE and job.cancel_message == _FREED:
                    job.park()  # stopped to free the worker; runs again when its client returns
                    if job.client not in self._away:  # ... which it did meanwhile
                        self._requeue(job)
                else:
                    self._finish_failed(job, rest[0], rest[1])
            except Exception as exc:
                log.exception("could not deliver the %s event of job %s", kind, job.id)
                if self._active.get(job.key) is job:
                    self._finish_failed(job, protocol.INTERNAL, f"could not deliver the result: {type(exc).__name__}")

    def _heartbeat(self) -> None:
        now = time.monotonic()
        for client in [c for c, deadline in self._away.items() if deadline <= now]:
            self._give_up(client)
        for job in list(self._active.values()):
            if job.state == "running" and not job.token.cancelled and job.started is not None \
                    and now - job.started > self.config.job_timeout_s:
                log.warning("job %s ran past the time limit of %.0f s: stopping it", job.id, self.config.job_timeout_s)
                job.cancel(protocol.TIME_LIMIT, f"the job ran longer than this daemon's limit of "
                           f"{self.config.job_timeout_s:g} s (mfmjt serve --job-timeout)")
        self._drain_events()  # the worker's reports first: a beat then never sends a stage before an older one
        for job in list(self._active.values()):
            if self._active.get(job.key) is job:
                self._send_progress(job)
        self._answers.expire()

    # ---- sending ------------------------------------------------------------------------------

    def _send(self, client: bytes, header: dict[str, Any], blobs: Sequence[Any] = ()) -> bool:
        if client in self._away:  # its answers wait in the cache until it is back (authenticated)
            return False
        frames = protocol.encode({**header, "instance": self.instance}, blobs)
        try:
            self._socket.send_multipart([client, *frames], flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            log.warning("client %s is not reading; dropped a %r message", _who(client), header.get("op"))
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                self._client_gone(client)
            else:
                log.error("cannot send to client %s: %s", _who(client), exc)
        return False

    def _send_error(self, client: bytes, code: str, message: str, *, job: str | None = None,
                    req: str | None = None, about: str | None = None) -> None:
        header = {"op": "error", "code": code, "message": message}
        header.update({k: v for k, v in (("job", job), ("req", req), ("about", about)) if v is not None})
        self._send(client, header)

    def _send_progress(self, job: Job, stage: str | None = None, fraction: float | None = None) -> None:
        """A progress event: the stage and fraction the worker reported (its event's), else the
        job's current ones (heartbeats, queue positions)."""
        now = time.monotonic()
        stage = job.stage if stage is None else stage
        fraction = job.fraction if fraction is None else fraction
        header = {"op": "progress", "job": job.id, "stage": stage, "fraction": round(fraction, 4),
                  "eta_s": job.eta_s(now), "elapsed_s": round(now - job.submitted, 3)}
        if job.state == "queued":
            header["position"] = self._queue.position(job)
        self._send(job.client, header)

    def _client_gone(self, client: bytes) -> None:
        """A send found no connection for `client`. Its jobs wait `reconnect_grace_s` for it to
        come back (same routing id): waiting ones leave the queue, a running one keeps running
        until another job waits for the worker (`_free_workers`)."""
        if client in self._away:
            return
        jobs = [j for j in self._active.values() if j.client == client]
        if self.config.reconnect_grace_s <= 0:
            self._away[client] = time.monotonic()
            self._give_up(client)
            return
        self._away[client] = time.monotonic() + self.config.reconnect_grace_s
        log.info("client %s went away: keeping its %d job(s) for %g s", _who(client), len(jobs),
                 self.config.reconnect_grace_s)
        for job in jobs:
            if self._queue.remove(job):
                job.park()
        self._free_workers()

    def _free_workers(self) -> None:
        """Stop the running jobs of away clients while other jobs wait for a worker."""
        if not len(self._queue):
            return
        for job in list(self._active.values()):
            if job.state == "running" and job.client in self._away and not job.token.cancelled:
                log.info("client %s went away: stopping its job %s to free the worker", _who(job.client), job.id)
                job.cancel(protocol.CLIENT_GONE, _FREED)

    def _client_back(self, client: bytes) -> None:
        """`client` reached us again within the grace: its parked jobs queue again, in order."""
        del self._away[client]
        parked = sorted((j for j in self._active.values() if j.client == client and j.state == "parked"),
                        key=lambda j: j.submitted)
        for job in parked:
            self._requeue(job)
        log.info("client %s is back: %d job(s) queued again", _who(client), len(parked))

    def _requeue(self, job: Job) -> None:
        job.state = "queued"
        try:
            self._queue.put(job, force=True)
        except QueueFull:  # closed: the daemon is stopping
            job.cancel(protocol.SHUTTING_DOWN)
            self._finish_failed(job, protocol.SHUTTING_DOWN, "the daemon is shutting down; submit again later")

    def _give_up(self, client: bytes) -> None:
        """The grace is over: cancel the client's jobs. Their error answers are kept, so a
        request re-sent later gets `client_gone` instead of a second run."""
        self._away.pop(client, None)
        for job in [j for j in self._active.values() if j.client == client]:
            log.info("client %s went away: cancelling its job %s", _who(client), job.id)
            job.cancel(protocol.CLIENT_GONE)
            job.cancel_code = protocol.CLIENT_GONE  # also over a stop that freed the worker
            job.cancel_message = (f"the client went away and did not come back within "
                                  f"{self.config.reconnect_grace_s:g} s")
            if job.state == "parked" or self._queue.remove(job):
                self._finish_failed(job, protocol.CLIENT_GONE, job.cancel_message, send=False)

    # ---- finishing jobs ---------------------------------------------------------------------

    def _finish_done(self, job: Job, result: GenerationResult) -> None:
        audio = np.ascontiguousarray(result.audio, dtype="<f4")
        if audio.ndim != 3:
            self._finish_failed(job, protocol.INTERNAL, f"the generator returned audio of shape {audio.shape}")
            return
        now = time.monotonic()
        spec = protocol.FrameSpec("audio", "float32", tuple(int(n) for n in audio.shape))
        header = {
            "op": "result", "job": job.id, "sample_rate": int(result.sample_rate),
            "variations": spec.shape[0], "channels": spec.shape[1], "samples": spec.shape[2],
            "seeds": [int(s) for s in result.seeds], "model": str(result.model),
            "timings": {str(k): float(v) for k, v in result.timings.items() if np.isfinite(v)},
            "start": float(result.start), "duration": float(result.duration), "seq": job.seq,
            "queued_s": round((job.started or now) - job.submitted, 4),
            "run_s": round(now - (job.started or now), 4), "frames": [spec.to_json()],
        }
        if getattr(result, "levels", ()):  # loudness and true peak as delivered, per variation
            header["levels"] = [level.to_json() for level in result.levels]
        self._counts["completed"] += 1
        log.info("job %s from %s done: %.2f s of audio x%d in %.2f s", job.id, _who(job.client),
                 spec.shape[2] / max(1, result.sample_rate), spec.shape[0], header["run_s"])
        self._finish(job, "done", header, [audio])

    def _finish_failed(self, job: Job, code: str, message: str, *, send: bool = True) -> None:
        message = self._uploads.scrub(message)  # the daemon's temp paths are nobody's business
        self._counts["cancelled" if job.token.cancelled else "failed"] += 1
        log.log(logging.INFO if job.token.cancelled else logging.WARNING,
                "job %s from %s failed (%s): %s", job.id, _who(job.client), code, message)
        header = {"op": "error", "job": job.id, "code": code, "message": message, "about": "generate"}
        # a job stopped by its client's cancel reads `cancelled` in `status`, not `failed`
        state = "cancelled" if code == protocol.CANCELLED else "failed"
        self._finish(job, state, header, [], send=send and code != protocol.CLIENT_GONE)

    def _finish(self, job: Job, state: str, header: dict, blobs: list, *, send: bool = True) -> None:
        job.discard_temp_file()  # before the answer leaves: no upload outlives its job
        job.state = state
        self._active.pop(job.key, None)
        self._answers.put(job.key, Answer(job.fingerprint, state, header, blobs))
        if send:
            self._send(job.client, header, blobs)

    # ---- requests -----------------------------------------------------------------------------

    def _handle(self, frames: list[zmq.Frame]) -> None:
        client = frames[0].bytes
        if len(frames) < 2:
            return
        if len(frames[1]) == 0:  # a REQ socket: answer inside its envelope so it is not stuck
            reply = protocol.encode({"op": "error", "code": protocol.BAD_REQUEST, "instance": self.instance,
                                     "message": "REQ sockets are not supported: use DEALER"})
            with contextlib.suppress(zmq.ZMQError):
                self._socket.send_multipart([client, b"", *reply], flags=zmq.NOBLOCK)
            return
        message = None
        try:
            message = protocol.decode(frames[1:], max_blob_bytes=self.config.max_message_bytes)
            self._check_token(message)
            if client in self._away:  # a request from its routing id (with the token): it is back
                self._client_back(client)
            fields = protocol.parse_request(message)
            getattr(self, f"_op_{message.op}")(client, message, fields)
        except protocol.ProtocolError as exc:
            self._counts["rejected"] += 1
            log.debug("bad request from %s: %s", _who(client), exc.message)
            about = message.op if message is not None and message.op in protocol.REQUEST_OPS else None
            self._send_error(client, exc.code, self._uploads.scrub(exc.message), job=exc.job, req=exc.req,
                             about=about)
        except Exception as exc:
            log.exception("internal error while handling a request from %s", _who(client))
            job = message.header.get("job") if message is not None else None
            self._send_error(client, protocol.INTERNAL, f"internal error: {type(exc).__name__}",
                             job=job if isinstance(job, str) else None)

    def _check_token(self, message: protocol.Message) -> None:
        if self._token is None:
            return
        given = message.header.get("token")
        if isinstance(given, str) and hmac.compare_digest(given.encode(), self._token):
            return
        job, req = message.job, message.header.get("req")
        raise protocol.ProtocolError(
            protocol.AUTH, "missing or wrong token: this daemon serves only its own user; clients send the "
            "token from the daemon.token file in that user's mfmjt config folder (or $MFMJT_TOKEN_FILE)",
            job=job if protocol.valid_id(job) else None, req=req if protocol.valid_id(req) else None)

    def _reply(self, client: bytes, message: protocol.Message, header: dict) -> None:
        if "req" in message.header:
            header["req"] = message.header["req"]
        self._send(client, header)

    def _op_ping(self, client: bytes, message: protocol.Message, fields: dict) -> None:
        self._reply(client, message, {"op": "pong", "time": time.time()})

    def _op_hello(self, client: bytes, message: protocol.Message, fields: dict) -> None:
        self._reply(client, message, {
            "op": "hello", "versions": list(protocol.SUPPORTED_VERSIONS), "server": f"mfmjt {__version__}",
            "models": self._models, "workers": len(self._workers), "heartbeat_s": self.config.heartbeat_s,
            "paths": self.allow_paths,
            "limits": {"max_message_bytes": self.config.max_message_bytes,
                       "max_header_bytes": protocol.MAX_HEADER_BYTES, "max_queue": self.config.max_queue,
                       "max_seconds": self.config.max_seconds, "max_result_bytes": self.config.max_result_bytes,
                       "max_queue_per_client": self.config.max_queue_per_client,
                       "job_timeout_s": self.config.job_timeout_s,
                       "reconnect_grace_s": self.config.reconnect_grace_s},
        })

    def _op_status(self, client: bytes, message: protocol.Message, fields: dict) -> None:
        if "job" in fields:
            self._reply(client, message, self._job_status(client, fields["job"]))
            return
        running = [j for j in self._active.values() if j.state == "running"]
        self._reply(client, message, {
            "op": "status", "uptime_s": round(time.monotonic() - self._started_at, 3),
            "queued": len(self._queue), "running": len(running), "workers": len(self._workers),
            "clients": len({j.client for j in self._active.values()}), "stopping": self._stop_requested,
            **self._counts,
        })

    def _job_status(self, client: bytes, job_id: str) -> dict:
        header = {"op": "status", "job": job_id}
        job = self._active.get((client, job_id))
        if job is not None:
            state = "queued" if job.state == "parked" else job.state
            header.update(state=state, stage=job.stage, fraction=round(job.fraction, 4))
            if job.state == "queued":
                header["position"] = self._queue.position(job)
        else:
            answer = self._answers.get((client, job_id))
            header["state"] = answer.state if answer else "unknown"
        return header

    def _op_cancel(self, client: bytes, message: protocol.Message, fields: dict) -> None:
        job = self._active.get((client, fields["job"]))
        if job is None:
            self._reply(client, message, self._job_status(client, fields["job"]) | {"op": "cancel"})
            return
        job.cancel()
        if job.state == "parked" or self._queue.remove(job):
            self._reply(client, message, {"op": "cancel", "job": job.id, "state": "cancelled"})
            self._finish_failed(job, protocol.CANCELLED, "cancelled before it started")
        else:  # running: the worker answers once the generator stops
            self._reply(client, message, {"op": "cancel", "job": job.id, "state": "cancelling"})

    def _op_generate(self, client: bytes, message: protocol.Message, fields: dict) -> None:
        key, print_ = (client, fields["job"]), fingerprint(message.header)
        job, answer = self._active.get(key), self._answers.get(key)
        if job is not None or answer is not None:
            if (job or answer).fingerprint != print_:
                raise protocol.ProtocolError(protocol.JOB_CONFLICT, f"job id {key[1]!r} is in use by a "
                                             "different request; pick a new id", job=key[1])
            if job is not None:  # a re-sent request: do not start a second job
                self._send(client, {"op": "accepted", "job": job.id, "duplicate": True,
                                    "position": self._queue.position(job)})
            else:
                self._send(client, answer.header, answer.blobs)
            return
        if self._stop_requested:
            raise protocol.ProtocolError(protocol.SHUTTING_DOWN, "the daemon is shutting down", job=key[1])
        request, temp_file = build_request(message, fields, self._limits, self._uploads)
        if request.seed is None:  # drawn now, so a run restarted after a reconnect gives the same audio
            request = dataclasses.replace(request, seed=secrets.randbelow(2**31))
        job = Job(client, key[1], request, print_, temp_file)
        try:
            position = self._queue.put(job)
        except QueueFull as exc:
            job.discard_temp_file()
            raise protocol.ProtocolError(protocol.BUSY, f"{exc}; try again later", job=job.id) from None
        self._active[key] = job
        self._free_workers()
        log.debug("job %s from %s queued at %d", job.id, _who(client), position)
        self._send(client, {"op": "accepted", "job": job.id, "duplicate": False, "position": position})
