"""Thin client for the MF-MJT daemon. Standard library + pyzmq only; numpy is optional.

Vendor it into an editor extension with its siblings `protocol.py`, `events.py`, `wav.py` and
`job_state.py` (five files, one package, relative imports) and the request schema package
`mfmjt_schema` as a subpackage beside them (plugins/blender_vse/build.py does). Two ways to use it:

    with Client() as client:                       # blocking, e.g. a script or a worker thread
        result = client.generate("clip.mp4", start=2.0, end=10.0, progress=print)
        write_wav("out.wav", result)

    job = client.submit(prompt="rain on a tin roof", duration=8.0)   # editor timers: no threads
    ...each timer tick: for event in client.poll(): ...; job.done, job.result, job.error
    (job_state.JobWatch turns those events into what to tell the user, and its heartbeat
    notices a daemon that went silent within 5 s through heard_at / ping_nowait / give_up)

A Client owns one ZeroMQ DEALER socket: use it from one thread only.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

if TYPE_CHECKING:  # typing.Self is 3.11+; Resolve may run an older Python
    from typing import Self

from . import protocol
from .events import (
    AuthenticationError,
    DaemonError,
    DaemonRestartedError,
    DaemonUnavailableError,
    Event,
    Progress,
    Result,
)
from .wav import pcm24, write_wav

__all__ = ["AuthenticationError", "Client", "DaemonError", "DaemonRestartedError", "DaemonUnavailableError",
           "Event", "Job", "Progress", "Result", "pcm24", "write_wav"]

_FAILED_HANDSHAKE = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                     | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


class Job:
    """A submitted job; `Client.poll()` keeps it up to date."""

    def __init__(self, job_id: str, frames: list[Any]) -> None:
        self.id = job_id
        self.state = "sending"  # sending | queued | running | done | failed
        self.progress: Progress | None = None
        self.result: Result | None = None
        self.error: DaemonError | None = None
        self.instance: str | None = None  # the daemon run that accepted it
        self._frames = frames
        self._size = sum(len(memoryview(f)) for f in frames)
        self._sent_at = self._heard_at = 0.0
        self._tries = 0
        self._probe: str | None = None
        self._probe_at = 0.0
        self._probe_tries = 0

    @property
    def done(self) -> bool:
        return self.state in ("done", "failed")

    def __repr__(self) -> str:
        return f"Job({self.id!r}, {self.state})"


def _new_id() -> str:
    return uuid.uuid4().hex


def _z85_key(value: str | bytes | os.PathLike) -> bytes:
    """A Z85 key given as text/bytes, or read from a pyzmq certificate file."""
    if isinstance(value, (str, bytes)) and len(value) == 40 and not os.path.exists(value):
        return value.encode("ascii") if isinstance(value, str) else value
    import zmq.auth

    public, _ = zmq.auth.load_certificate(os.fspath(value))
    return public


class Client:
    """Connection to one daemon.

    address: e.g. "tcp://127.0.0.1:5557" (default: $MFMJT_DAEMON, else that).
    timeout: seconds without an answer before a request is re-sent (lazy pirate), `retries`
    times, before DaemonUnavailableError. identity: a stable name for this client (e.g. the
    editor's session): a Client created again with it within the daemon's reconnect grace (an
    add-on reload) gets its jobs back by re-sending them (`submit(..., job=<the old id>)`); by
    default a random one. Keep a stable identity hard to guess (random, saved with the session):
    any connection that claims it receives what the daemon sends to it. token: the local
    daemon's secret (default: read from `protocol.token_path()` when no server_key is given).
    server_key (Z85 or a .key file) and client_key (a .key_secret file from
    `mfmjt keys client NAME`) enable CURVE.
    """

    def __init__(self, address: str | None = None, *, timeout: float = 10.0, retries: int = 2,
                 server_key: str | bytes | os.PathLike | None = None,
                 client_key: str | os.PathLike | None = None, context: zmq.Context | None = None,
                 identity: str | bytes | None = None, token: str | None = None) -> None:
        self.address = address or os.environ.get("MFMJT_DAEMON") or protocol.DEFAULT_ADDRESS
        self.timeout, self.retries = float(timeout), int(retries)
        self._context = context or zmq.Context.instance()
        self._keys = (server_key, client_key)
        # A local daemon (no CURVE) serves only its user: send the secret of its token file.
        self._token = token if token is not None or server_key is not None else protocol.read_token()
        self.identity = _routing_id(identity)
        self._open_socket()
        self.heard_at = time.monotonic()  # when the daemon last sent anything (heartbeats read it)
        self._jobs: dict[str, Job] = {}
        self._waiting: dict[str, protocol.Message | None] = {}
        self._events: list[Event] = []
        self._instance: str | None = None
        self._auth_error: AuthenticationError | None = None

    def _open_socket(self) -> None:
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)  # never hang the editor on exit
        self._socket.setsockopt(zmq.ROUTING_ID, self.identity)
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._monitor = None
        if self._keys[0] is not None:
            self._use_curve(*self._keys)
        self._socket.setsockopt(zmq.IPV6, int(protocol.names_ipv6(self.address)))
        self._socket.connect(self.address)

    def _use_curve(self, server_key, client_key) -> None:
        import zmq.auth

        if client_key is None:
            raise ValueError("CURVE needs client_key: the .key_secret file from `mfmjt keys client NAME`")
        if not os.path.isfile(client_key):
            raise ValueError(f"no client key file at {client_key}: make one with `mfmjt keys client NAME`")
        public, secret = zmq.auth.load_certificate(os.fspath(client_key))
        if secret is None:
            raise ValueError(f"{client_key} holds no secret key")
        self._socket.curve_serverkey = _z85_key(server_key)
        self._socket.curve_publickey, self._socket.curve_secretkey = public, secret
        self._monitor = self._socket.get_monitor_socket(_FAILED_HANDSHAKE)
        self._poller.register(self._monitor, zmq.POLLIN)

    def close(self) -> None:
        """Close the socket at once (LINGER=0). The daemon keeps this client's unfinished jobs
        for its reconnect grace (a Client with the same `identity` gets them back by re-sending
        them), then cancels them."""
        self._close_socket()

    def _close_socket(self) -> None:
        if self._monitor is not None:
            self._socket.disable_monitor()
            self._monitor.close(0)
            self._monitor = None
        self._socket.close(0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests with one answer ------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        """Versions, models, devices, limits and heartbeat interval of the daemon."""
        return self._request("hello", versions=list(protocol.SUPPORTED_VERSIONS))

    def ping(self) -> float:
        """Round-trip time in seconds."""
        start = time.perf_counter()
        self._request("ping")
        return time.perf_counter() - start

    def status(self, job: str | None = None) -> dict[str, Any]:
        """The daemon's counters, or one job's state (queued/running/done/failed/unknown)."""
        return self._request("status", **({"job": job} if job else {}))

    def cancel(self, job: str | Job) -> dict[str, Any]:
        """Cancel a job; its error event (code "cancelled") follows through poll()."""
        return self._request("cancel", job=job.id if isinstance(job, Job) else job)

    # ---- for editors' timers: nothing here waits ---------------------------------------------

    def ping_nowait(self) -> None:
        """Ask for a sign of life; the answer only moves `heard_at` (read by a Heartbeat)."""
        self._send({"op": "ping", "req": _new_id()})

    def cancel_nowait(self, job: str | Job) -> None:
        """Ask the daemon to cancel; its error event (code "cancelled") follows through poll().
        Unlike `cancel`, never waits, so a dead daemon cannot freeze the caller."""
        self._send({"op": "cancel", "req": _new_id(), "job": job.id if isinstance(job, Job) else job})

    def give_up(self, message: str | None = None) -> list[Job]:
        """The daemon stopped answering: fail every unfinished job (code "unavailable") and start
        a fresh socket. Requests still queued in the old one die with it, so a job the user was
        told failed can never reach a daemon that comes back; a daemon that is only hung cancels
        the old connection's jobs once it notices the connection is gone (the fresh socket gets a
        new random identity, so they are not handed back to it). Returns the jobs failed."""
        failed = self._active()
        for job in failed:
            self._fail(job, DaemonUnavailableError("unavailable", message or (
                f"the daemon at {self.address} stopped answering while job {job.id} was {job.state}"), job.id))
        self._close_socket()
        self.identity = _routing_id(None)
        self._open_socket()
        self._waiting = {req: None for req in self._waiting}
        self.heard_at = time.monotonic()
        return failed

    def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        req = _new_id()
        self._waiting[req] = None
        try:
            for _attempt in range(self.retries + 1):
                self._send({"op": op, "req": req, **fields})
                deadline = time.monotonic() + self.timeout
                while time.monotonic() < deadline:
                    self._pump(deadline - time.monotonic())
                    if self._auth_error is not None:
                        raise self._auth_error
                    reply = self._waiting.get(req)
                    if reply is not None:
                        if reply.op == "error":
                            raise _error(reply.header)
                        return reply.header
        finally:
            self._waiting.pop(req, None)
        raise DaemonUnavailableError("unavailable", f"no answer from {self.address} to {op!r} after "
                                     f"{self.retries + 1} tries of {self.timeout:g} s; is `mfmjt serve` running?")

    # ---- jobs --------------------------------------------------------------------------------

    def submit(self, video: str | os.PathLike | bytes | None = None, *, send: str = "auto",
               job: str | None = None, **params: Any) -> Job:
        """Send a generate request and return at once; watch the Job through poll().

        video: a file path, the bytes of a rendered clip, or None for text-to-audio (then give
        `duration`). send: "path" (the daemon reads the file; same machine only), "bytes", or
        "auto" (path when the address is local). params: the request fields of the request
        schema (mfmjt_schema.FIELDS: prompt, negative_prompt, duration, start, end, start_frame,
        end_frame, fps, seed, steps, guidance, rescale, temperature, variations, sample_rate,
        channels, loudness, peak_ceiling, video_format ...); None leaves a field to the daemon's
        default. `fps` may be a Fraction, a float or a (num, den) pair. Raises TypeError for an
        unknown field and ValueError for a request the daemon would refuse anyway.
        """
        known = protocol.schema.wire_fields()
        for name in params:
            if name not in known or name in ("job", "video_path"):
                raise TypeError(f"submit() got an unexpected keyword argument {name!r}")
        video_format = params.pop("video_format", None)
        header: dict[str, Any] = {"op": "generate", "job": job or _new_id()}
        header.update({k: v for k, v in params.items() if v is not None and k != "fps"})
        if params.get("fps") is not None:
            header["fps"] = _fps_pair(params["fps"])
        blobs: list[Any] = []
        if video is not None:
            blob = self._video_frame(video, send, header, video_format)
            if blob is not None:
                header["frames"] = [{"name": "video", "dtype": "bytes", "shape": [len(blob)]}]
                blobs.append(blob)
        if self._token is not None:
            header["token"] = self._token
        frames = protocol.encode(header, blobs)
        try:  # the same checks the daemon makes, so mistakes surface here, not after a round trip
            protocol.parse_request(protocol.decode(frames))
        except protocol.ProtocolError as exc:
            raise ValueError(exc.message) from None
        if header["job"] in self._jobs and not self._jobs[header["job"]].done:
            raise ValueError(f"job id {header['job']!r} is already in flight")
        handle = Job(header["job"], frames)
        self._jobs[handle.id] = handle
        self._send_job(handle)
        return handle

    def _video_frame(self, video, send: str, header: dict, video_format: str | None) -> bytes | None:
        if isinstance(video, (bytes, bytearray, memoryview)):
            header["video_format"] = video_format or "mp4"
            return bytes(video)
        path = Path(video).expanduser().absolute()
        if send not in ("auto", "path", "bytes"):
            raise ValueError("send must be 'auto', 'path' or 'bytes'")
        if send == "path" or (send == "auto" and protocol.is_local_endpoint(self.address)):
            header["video_path"] = str(path)
            return None
        header["video_format"] = video_format or (path.suffix.lstrip(".").lower() or "mp4")
        return path.read_bytes()

    def poll(self, timeout: float = 0.0) -> list[Event]:
        """Read what the daemon sent (waiting at most `timeout` s), keep jobs alive; never blocks
        longer. Returns the events since the last call, oldest first."""
        self._pump(timeout)
        events, self._events = self._events, []
        return events

    def generate(self, video: str | os.PathLike | bytes | None = None, *,
                 progress: Callable[[Progress], None] | None = None, max_wait: float | None = None,
                 **params: Any) -> Result:
        """Submit a job and wait for its result (see `submit` for the parameters).

        progress(Progress) is called for each progress event. Raises DaemonError (its code says
        why) or DaemonUnavailableError. Ctrl-C or `max_wait` seconds cancel the job.
        """
        job = self.submit(video, **params)
        deadline = None if max_wait is None else time.monotonic() + max_wait
        try:
            while not job.done:
                if deadline is not None and time.monotonic() > deadline:
                    raise DaemonError("timeout", f"no result within {max_wait:g} s", job.id)
                self._pump(0.5)
                mine = [e for e in self._events if e.job == job.id]
                self._events = [e for e in self._events if e.job != job.id]
                for event in mine:
                    if event.kind == "progress" and progress is not None:
                        progress(event.progress)
        except BaseException:
            if not job.done:
                job.state = "failed"
                try:
                    self._send({"op": "cancel", "job": job.id})
                except zmq.ZMQError:
                    pass
            raise
        finally:
            self._jobs.pop(job.id, None)
        if job.error is not None:
            raise job.error
        return job.result

    # ---- the socket ---------------------------------------------------------------------------

    def _send(self, header: dict[str, Any], blobs: list[Any] = ()) -> None:
        if self._token is not None:
            header = {**header, "token": self._token}
        self._send_frames(protocol.encode(header, blobs))

    def _send_frames(self, frames: list[Any]) -> None:
        try:
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            pass  # nothing connected and the pipe is full: the retry timer will try again

    def _send_job(self, job: Job) -> None:
        job._tries += 1
        job._sent_at = job._heard_at = time.monotonic()
        self._send_frames(job._frames)

    def _pump(self, timeout: float) -> None:
        ready = dict(self._poller.poll(max(0, int(timeout * 1000))))
        if self._monitor is not None and self._monitor in ready:
            self._read_monitor()
        if self._socket in ready:
            while True:
                try:
                    frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._dispatch(frames)
        self._check_jobs()

    def _read_monitor(self) -> None:
        from zmq.utils.monitor import recv_monitor_message

        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] & _FAILED_HANDSHAKE:
                self._auth_error = AuthenticationError(
                    "auth", f"the daemon at {self.address} refused the CURVE handshake (event "
                    f"{event['event']}, value {event['value']}): this client's key is not "
                    "authorised there (`mfmjt keys authorize`), or the server key is wrong")
                for job in self._active():
                    self._fail(job, self._auth_error)

    def _dispatch(self, frames: list[Any]) -> None:
        try:
            message = protocol.decode(frames)
        except protocol.ProtocolError:
            return  # not from a daemon speaking our protocol; nothing to answer
        header = message.header
        self.heard_at = time.monotonic()
        self._note_instance(header.get("instance"))
        req = header.get("req")
        if req in self._waiting:
            self._waiting[req] = message
            return
        job = self._jobs.get(header.get("job")) if header.get("job") else None
        if job is None or job.done:
            return
        if req is not None and req == job._probe:
            self._probe_answer(job, message)
            return
        if job.instance is not None and header.get("instance") not in (None, job.instance):
            return  # _note_instance has failed it already
        job._heard_at, job._probe, job._probe_tries = time.monotonic(), None, 0
        job.instance = job.instance or header.get("instance")
        op = message.op
        if op == "accepted":
            job.state = "queued" if job.state == "sending" else job.state
            self._events.append(Event("accepted", job.id))
        elif op == "progress":
            job.state = "queued" if header.get("stage") == "queued" else "running"
            job.progress = Progress(job.id, str(header.get("stage")), float(header.get("fraction", 0.0)),
                                    header.get("eta_s"), header.get("elapsed_s"), header.get("position"))
            self._events.append(Event("progress", job.id, progress=job.progress))
        elif op == "result":
            self._complete(job, message)
        elif op == "error":
            self._fail(job, _error(header, job.id))

    def _complete(self, job: Job, message: protocol.Message) -> None:
        h = message.header
        try:
            audio = message.blobs["audio"]
            result = Result(job.id, audio, int(h["sample_rate"]), int(h["channels"]), int(h["variations"]),
                            int(h["samples"]), tuple(h.get("seeds", ())), str(h.get("model", "")),
                            dict(h.get("timings", {})), float(h.get("start", 0.0)), float(h.get("duration", 0.0)), h)
            if len(audio) != result.variations * result.channels * result.samples * 4:
                raise ValueError("audio size does not match its header")
        except (KeyError, TypeError, ValueError) as exc:
            self._fail(job, DaemonError("bad_reply", f"malformed result from the daemon: {exc}", job.id))
            return
        job.state, job.result, job._frames = "done", result, []
        self._events.append(Event("result", job.id, result=result))

    def _fail(self, job: Job, error: DaemonError) -> None:
        if job.done:
            return
        job.state, job.error, job._frames = "failed", error, []
        self._events.append(Event("error", job.id, error=error))

    def _active(self) -> list[Job]:
        return [j for j in self._jobs.values() if not j.done]

    def _note_instance(self, instance: object) -> None:
        if not isinstance(instance, str) or instance == self._instance:
            return
        for job in self._active():
            if job.instance is not None and job.instance != instance:
                self._fail(job, DaemonRestartedError(
                    "restarted", f"the daemon restarted while job {job.id} was in flight; the job was "
                    "lost: submit it again", job.id))
        self._instance = instance

    def _check_jobs(self) -> None:
        """Lazy pirate for jobs: re-send unanswered requests, probe jobs that went quiet."""
        now = time.monotonic()
        for job in self._active():
            if job.state == "sending":
                wait = self.timeout + job._size / 20e6  # big uploads take a while to arrive
                if now - job._sent_at < wait:
                    continue
                if job._tries > self.retries:
                    self._fail(job, DaemonUnavailableError(
                        "unavailable", f"no answer from {self.address} after {job._tries} tries of "
                        f"{self.timeout:g} s; is `mfmjt serve` running?", job.id))
                else:
                    self._send_job(job)
            elif now - job._heard_at >= self.timeout and (job._probe is None or now - job._probe_at >= self.timeout):
                if job._probe_tries > self.retries:
                    self._fail(job, DaemonUnavailableError(
                        "unavailable", f"the daemon at {self.address} stopped answering while job "
                        f"{job.id} was {job.state}", job.id))
                    continue
                job._probe, job._probe_at = job._probe or _new_id(), now
                job._probe_tries += 1
                self._send({"op": "status", "req": job._probe, "job": job.id})

    def _probe_answer(self, job: Job, message: protocol.Message) -> None:
        state = message.header.get("state")
        job._heard_at, job._probe, job._probe_tries = time.monotonic(), None, 0
        if state in ("done", "failed", "cancelled"):  # its answer got lost: a re-send returns it again
            job._tries = 0
            job.state = "sending"
            self._send_job(job)
        elif state == "unknown" or message.op == "error":
            self._fail(job, DaemonRestartedError(
                "restarted", f"the daemon no longer knows job {job.id} (it restarted?); submit it again", job.id))


def _error(header: dict[str, Any], job: str | None = None) -> DaemonError:
    code, message = str(header.get("code", "error")), str(header.get("message", ""))
    kind = AuthenticationError if code == protocol.AUTH else DaemonError
    return kind(code, message, job) if job is not None else kind(code, message)


def _routing_id(identity: str | bytes | None) -> bytes:
    if identity is None:
        return b"mfmjt-" + os.urandom(10)
    value = identity.encode() if isinstance(identity, str) else bytes(identity)
    if not 1 <= len(value) <= 255 or value[0] == 0:
        raise ValueError("identity must be 1 to 255 bytes and not start with a zero byte")
    return value


def _fps_pair(fps: Fraction | tuple[int, int] | float) -> list[int]:
    if isinstance(fps, tuple):
        return [int(fps[0]), int(fps[1])]
    f = Fraction(fps).limit_denominator(1_000_000) if isinstance(fps, float) else Fraction(fps)
    return [f.numerator, f.denominator]
