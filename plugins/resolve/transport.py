"""The daemon side of the Resolve script: turn a rendered range into a WAV file.

Two ways, same result:
- `DirectTransport`: the vendored thin client (`mfmjt_client`, copied beside the script by
  `mfmjt install-resolve`); needs pyzmq importable in the Python that Resolve runs.
- `BridgeTransport`: runs `mfmjt resolve-bridge` from the user's mfmjt installation (which has
  pyzmq) and reads its line protocol on stdout. The Lua script for the free edition uses the
  same command and the same lines.

Bridge line protocol, one tab-separated record per line (other lines are ignored):
    progress <TAB> fraction 0..1 <TAB> stage
    result   <TAB> wav path <TAB> seed <TAB> samples <TAB> sample rate
    error    <TAB> code <TAB> message
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence  # runtime-subscriptable on every Python Resolve runs
from dataclasses import dataclass
from pathlib import Path

from .resolve_compat import ResolveScriptError

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class SoundRequest:
    """What to ask the daemon for one rendered range."""

    video: Path
    out: Path
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    channels: int = 2
    sample_rate: int = 48_000


@dataclass(frozen=True)
class GeneratedAudio:
    """A WAV the daemon's answer was written to."""

    path: Path
    seed: int | None
    samples: int
    sample_rate: int


def parse_bridge_line(line: str) -> tuple[str, tuple[str, ...]] | None:
    """One bridge record as (kind, fields), or None for any other line (logs, warnings)."""
    parts = line.rstrip("\r\n").split("\t")
    expected = {"progress": 3, "result": 5, "error": 3}
    if parts and parts[0] in expected and len(parts) >= expected[parts[0]]:
        return parts[0], tuple(parts[1:])
    return None


def _client_module():
    try:
        from mfmjt_client import client  # the copy beside the Resolve script
    except ImportError:
        from mfmjt_daemon import client  # an installed mfmjt
    return client


def _job_state_module():
    try:
        from mfmjt_client import job_state  # the copy beside the Resolve script
    except ImportError:
        from mfmjt_daemon import job_state  # an installed mfmjt
    return job_state


def zmq_available() -> bool:
    """Whether pyzmq imports in this Python (Resolve's own Python usually lacks it)."""
    try:
        import zmq  # noqa: F401
    except ImportError:
        return False
    return True


class DirectTransport:
    """Talk to the daemon from this process with the vendored client."""

    name = "direct"

    def __init__(self, address: str | None = None, timeout: float = 10.0) -> None:
        self.address, self.timeout = address, timeout

    def generate(self, request: SoundRequest, progress: ProgressCallback) -> GeneratedAudio:
        """Send the rendered file, wait for the sound (the shared job state machine tells each
        phase; its heartbeat notices a daemon that went silent within 5 s), write a 24-bit WAV."""
        client = _client_module()
        job_state = _job_state_module()
        try:
            with client.Client(self.address, timeout=self.timeout) as connection:
                job = connection.submit(
                    str(request.video), prompt=request.prompt or None,
                    negative_prompt=request.negative_prompt or None, seed=request.seed, steps=request.steps,
                    guidance=request.guidance, channels=request.channels, sample_rate=request.sample_rate)
                state = job_state.follow(connection, job.id, job_state.JobWatch(),
                                         lambda s, now: progress(s.fraction, s.text(now)))
        except ValueError as exc:
            raise ResolveScriptError(f"the request was refused: {exc}") from None
        if state.phase != job_state.DONE:
            raise ResolveScriptError(state.text(0.0))  # e.g. "failed: the daemon shut down (...)"
        result = job.result
        path = client.write_wav(request.out, result, 0)
        return GeneratedAudio(Path(path), result.seeds[0] if result.seeds else None, result.samples,
                              result.sample_rate)


class BridgeTransport:
    """Run `mfmjt resolve-bridge` (a command line given as a list) and read its records."""

    name = "bridge"

    def __init__(self, command: Sequence[str], address: str | None = None) -> None:
        if not command:
            raise ResolveScriptError("no bridge command configured: run `mfmjt install-resolve` again")
        self.command, self.address = list(command), address

    def request_fields(self, request: SoundRequest) -> dict:
        """What goes into the bridge's JSON request file (project text stays off the command line)."""
        fields = {"video": str(request.video), "out": str(request.out), "channels": request.channels,
                  "prompt": request.prompt or None, "negative_prompt": request.negative_prompt or None,
                  "seed": request.seed, "steps": request.steps, "guidance": request.guidance,
                  "address": self.address}
        return {k: v for k, v in fields.items() if v is not None}

    def arguments(self, request_file: Path, request: SoundRequest) -> list[str]:
        """The full command line: the bridge, the request file and the sample rate."""
        return [*self.command, "--request", str(request_file), "--sample-rate", str(request.sample_rate)]

    def generate(self, request: SoundRequest, progress: ProgressCallback) -> GeneratedAudio:
        """Run the bridge to completion; its `error` record (or its last words) on failure."""
        request_file = Path(str(request.video) + ".request.json")
        request_file.write_text(json.dumps(self.request_fields(request)), encoding="utf-8")
        try:
            proc = subprocess.Popen(self.arguments(request_file, request), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                    errors="replace")
        except OSError as exc:
            request_file.unlink(missing_ok=True)
            raise ResolveScriptError(f"cannot start the MF-MJT bridge {self.command[0]!r}: {exc}") from None
        result, error, other = None, None, []
        assert proc.stdout is not None
        with proc:
            for line in proc.stdout:
                record = parse_bridge_line(line)
                if record is None:
                    other = (other + [line.strip()])[-5:]
                elif record[0] == "progress":
                    progress(float(record[1][0]), record[1][1])
                elif record[0] == "result":
                    path, seed, samples, rate = record[1][:4]
                    result = GeneratedAudio(Path(path), int(seed) if seed.isdigit() else None, int(samples), int(rate))
                elif record[1][1].startswith(("failed: ", "cancelled: ")):
                    error = record[1][1]  # the job state machine's line: whole, as it is
                else:
                    error = f"{record[1][1]} [{record[1][0]}]"
        request_file.unlink(missing_ok=True)
        if result is not None and proc.returncode == 0:
            return result
        if error is not None and error.startswith(("failed: ", "cancelled: ")):
            raise ResolveScriptError(error)
        detail = error or " / ".join(line for line in other if line) or f"exit status {proc.returncode}"
        raise ResolveScriptError(f"the MF-MJT bridge failed: {detail}")


def choose_transport(kind: str, address: str | None, bridge_command: Sequence[str]):
    """"direct", "bridge", or "auto" (direct when pyzmq imports here, else the bridge)."""
    if kind == "direct" or (kind == "auto" and zmq_available()):
        return DirectTransport(address)
    if kind in ("bridge", "auto"):
        return BridgeTransport(bridge_command, address)
    raise ResolveScriptError(f"unknown transport {kind!r} in the settings (auto, direct or bridge)")
