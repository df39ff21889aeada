"""MF-MJT daemon protocol, version 1: constants, message framing and request validation.

Standard library only: the client and any editor plugin share this file with the server.
`docs/protocol.md` is the specification; this module is its executable form.

A message is a ZeroMQ multipart message. Frame 0 is a UTF-8 JSON object (the header); later
frames are raw bytes that the header's `frames` list describes, one entry per frame, in order.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # vendored beside this file in an editor extension (see plugins/blender_vse/build.py)
    from . import mfmjt_schema as schema  # type: ignore[attr-defined]
except ImportError:
    import mfmjt_schema as schema

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
DEFAULT_PORT = 5557
DEFAULT_ADDRESS = f"tcp://127.0.0.1:{DEFAULT_PORT}"

MAX_HEADER_BYTES = 64 * 1024
MAX_FRAMES = 4
MAX_TEXT = schema.MAX_TEXT
MAX_SEED = schema.MAX_SEED
ITEM_SIZE = {"bytes": 1, "float32": 4}  # dtypes on the wire; float32 is little-endian
RESCALE_MODES = schema.RESCALE_MODES
VIDEO_FORMATS = schema.VIDEO_FORMATS

# Error codes. The model library adds its own (`bad_media`, `unknown_model`, `missing_weights`,
# `bad_weights`, `resource`, `cancelled`, `error`); all are listed in docs/protocol.md.
BAD_REQUEST = "bad_request"
UNSUPPORTED_VERSION = "unsupported_version"
UNKNOWN_OP = "unknown_op"
TOO_LARGE = "too_large"
BUSY = "busy"
UNKNOWN_JOB = "unknown_job"
JOB_CONFLICT = "job_conflict"
CANCELLED = "cancelled"
SHUTTING_DOWN = "shutting_down"
CLIENT_GONE = "client_gone"
TIME_LIMIT = "time_limit"
RESOURCE = "resource"  # out of memory, or no room for an upload
AUTH = "auth"  # a local daemon's token is missing or wrong
INTERNAL = "internal"

# Requests (client -> daemon) and events (daemon -> client).
REQUEST_OPS = ("hello", "ping", "status", "cancel", "generate")
EVENT_OPS = ("hello", "pong", "status", "cancel", "accepted", "progress", "result", "error")


class ProtocolError(Exception):
    """A message that breaks the protocol; `code` goes on the wire with the message."""

    def __init__(self, code: str, message: str, *, job: str | None = None, req: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.job = job
        self.req = req


@dataclass(frozen=True)
class FrameSpec:
    """One binary frame as the header describes it."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * ITEM_SIZE[self.dtype]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Message:
    """A decoded message: the header and its binary frames by name (memoryviews, not copies)."""

    header: dict[str, Any]
    blobs: dict[str, memoryview] = field(default_factory=dict)

    @property
    def op(self) -> str:
        return self.header["op"]

    @property
    def job(self) -> str | None:
        return self.header.get("job")


valid_id = schema.valid_id  # job and request ids: 1-64 characters of A-Z a-z 0-9 . _ : -


def names_ipv6(endpoint: str) -> bool:
    """True for a TCP endpoint written with an IPv6 literal (tcp://[::1]:5557): ZeroMQ sockets
    must be told IPv6 (zmq.IPV6) to bind or connect there."""
    return endpoint.startswith("tcp://[")


def ipc_in_use(endpoint: str) -> bool:
    """True when a process already listens at this ipc:// endpoint's socket file. Binding there
    again would silently take the file over and leave that daemon running but unreachable; a
    file no one listens at (a killed daemon's) is free to reuse."""
    import socket

    path = endpoint[len("ipc://"):] if endpoint.startswith("ipc://") else ""
    if not path or path.startswith("@") or not os.path.exists(path):  # (abstract names: the kernel refuses twice)
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def is_local_endpoint(endpoint: str) -> bool:
    """True when only this machine can reach `endpoint`: ipc://, inproc://, or TCP on
    127.0.0.1, ::1 or localhost. Anything else (other addresses, `*`, interface names, even
    other 127.x addresses) counts as reachable from elsewhere and needs CURVE keys."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://") or ";" in endpoint:
        return False
    host = endpoint[len("tcp://"):].rpartition(":")[0]
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def encode(header: dict[str, Any], blobs: Sequence[Any] = ()) -> list[Any]:
    """Frames of one message: the JSON header (with `v` set) then the blobs as given."""
    head = {"v": PROTOCOL_VERSION, **header}
    return [json.dumps(head, separators=(",", ":"), allow_nan=False).encode("utf-8"), *blobs]


def _buffer(frame: Any) -> memoryview:
    view = memoryview(getattr(frame, "buffer", frame))
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def decode(frames: Sequence[Any], *, max_header_bytes: int = MAX_HEADER_BYTES,
           max_blob_bytes: int | None = None) -> Message:
    """Parse frames into a Message, checking the header, the version and every frame's size.

    Raises ProtocolError; `job` and `req` are filled in when the header got that far, so the
    error reply can name them.
    """
    if not frames:
        raise ProtocolError(BAD_REQUEST, "empty message")
    head = _buffer(frames[0])
    if len(head) == 0:
        raise ProtocolError(BAD_REQUEST, "frame 0 is empty (REQ sockets are not supported: use DEALER)")
    if len(head) > max_header_bytes:
        raise ProtocolError(TOO_LARGE, f"header is {len(head)} bytes, the limit is {max_header_bytes}")
    try:
        header = json.loads(bytes(head).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(BAD_REQUEST, f"frame 0 is not UTF-8 JSON: {str(exc)[:200]}") from None
    if not isinstance(header, dict):
        raise ProtocolError(BAD_REQUEST, "frame 0 must be a JSON object")
    job = header.get("job") if valid_id(header.get("job")) else None
    req = header.get("req") if valid_id(header.get("req")) else None
    version = header.get("v")
    if type(version) is not int:
        raise ProtocolError(BAD_REQUEST, "header field 'v' (protocol version) must be an integer", job=job, req=req)
    if version not in SUPPORTED_VERSIONS:
        raise ProtocolError(UNSUPPORTED_VERSION, f"protocol version {version} is not supported; "
                            f"this side speaks {list(SUPPORTED_VERSIONS)}", job=job, req=req)
    if not isinstance(header.get("op"), str):
        raise ProtocolError(BAD_REQUEST, "header field 'op' must be a string", job=job, req=req)
    try:
        specs = parse_frame_specs(header.get("frames", []))
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, job=job, req=req) from None
    blobs = _match_frames(specs, frames[1:], max_blob_bytes, job, req)
    return Message(header, blobs)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def parse_frame_specs(value: object) -> list[FrameSpec]:
    """Validate a header's `frames` list (names unique, known dtypes, sane shapes)."""
    if not isinstance(value, list) or len(value) > MAX_FRAMES:
        raise ProtocolError(BAD_REQUEST, f"'frames' must be a list of at most {MAX_FRAMES} entries")
    specs, names = [], set()
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"name", "dtype", "shape"}:
            raise ProtocolError(BAD_REQUEST, "each 'frames' entry must be {name, dtype, shape}")
        name, dtype, shape = entry["name"], entry["dtype"], entry["shape"]
        if not valid_id(name) or name in names:
            raise ProtocolError(BAD_REQUEST, f"bad or repeated frame name {str(name)[:64]!r}")
        if dtype not in ITEM_SIZE:
            raise ProtocolError(BAD_REQUEST, f"frame dtype must be one of {sorted(ITEM_SIZE)}")
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
                or not all(type(n) is int and 0 <= n < 2**40 for n in shape)):
            raise ProtocolError(BAD_REQUEST, "frame shape must be 1-4 non-negative integers")
        names.add(name)
        specs.append(FrameSpec(name, dtype, tuple(shape)))
    return specs


def _match_frames(specs, frames, max_blob_bytes, job, req) -> dict[str, memoryview]:
    if len(frames) != len(specs):
        raise ProtocolError(BAD_REQUEST, f"header describes {len(specs)} binary frame(s), "
                            f"the message has {len(frames)}", job=job, req=req)
    blobs = {}
    for spec, frame in zip(specs, frames):
        if max_blob_bytes is not None and spec.nbytes > max_blob_bytes:
            raise ProtocolError(TOO_LARGE, f"frame {spec.name!r} declares {spec.nbytes} bytes, "
                                f"the limit is {max_blob_bytes}", job=job, req=req)
        view = _buffer(frame)
        if len(view) != spec.nbytes:
            raise ProtocolError(BAD_REQUEST, f"frame {spec.name!r} has {len(view)} bytes, its "
                                f"header says {spec.nbytes}", job=job, req=req)
        blobs[spec.name] = view
    return blobs


# ---- request fields ---------------------------------------------------------------------------
# The `generate` fields come from the request schema (mfmjt_schema); the other ops' few fields
# are the protocol's own.

Check = Callable[[str, Any], Any]


def _from_schema(spec: schema.Field) -> Check:
    def check(name, v):
        try:
            return spec.check(v)
        except schema.FieldError as exc:
            raise ProtocolError(BAD_REQUEST, str(exc)) from None
    return check


def _fail(name: str, what: str) -> ProtocolError:
    return ProtocolError(BAD_REQUEST, f"field {name!r} must be {what}")


def _text(name, v):
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise _fail(name, f"a string of at most {MAX_TEXT} characters")
    return v


def _ident(name, v):
    if not valid_id(v):
        raise _fail(name, "an id of 1-64 characters from A-Z a-z 0-9 . _ : -")
    return v


def _versions(name, v):
    if not isinstance(v, list) or not 0 < len(v) <= 16 or not all(type(n) is int for n in v):
        raise _fail(name, "a list of integers")
    return v


_COMMON = {"v": None, "op": None, "req": _ident, "frames": None, "token": None}
FIELDS: dict[str, dict[str, Check | None]] = {
    "hello": {"versions": _versions, "client": _text},
    "ping": {},
    "status": {"job": _ident},
    "cancel": {"job": _ident},
    "generate": {name: _from_schema(spec) for name, spec in schema.wire_fields().items()},
}
REQUIRED = {"cancel": ("job",), "generate": ("job",)}
ALLOWED_FRAMES = {"generate": {"video": "bytes"}}


def parse_request(message: Message) -> dict[str, Any]:
    """Check a request's op and fields; return {field: value} with defaults left out.

    Unknown fields are an error (they are usually typos) except names starting with `x_`,
    which are reserved for extensions and ignored.
    """
    op, job, req = message.op, message.job, message.header.get("req")
    job = job if valid_id(job) else None
    req = req if valid_id(req) else None
    if op not in FIELDS:
        raise ProtocolError(UNKNOWN_OP, f"unknown op {op[:64]!r}; known: {list(REQUEST_OPS)}", job=job, req=req)
    fields_of_op, out = FIELDS[op], {}
    try:
        if "req" in message.header and req is None:  # checked like `job`, though never returned
            raise ProtocolError(BAD_REQUEST, "field 'req' must be an id of 1-64 characters from "
                                "A-Z a-z 0-9 . _ : -")
        for name, value in message.header.items():
            if name in _COMMON or name.startswith("x_"):
                continue
            if name not in fields_of_op:
                raise ProtocolError(BAD_REQUEST, f"op {op!r} has no field {name[:64]!r}")
            out[name] = fields_of_op[name](name, value)
        for name in REQUIRED.get(op, ()):
            if name not in out:
                raise ProtocolError(BAD_REQUEST, f"op {op!r} needs field {name!r}")
        allowed = ALLOWED_FRAMES.get(op, {})
        for name in message.blobs:
            if name not in allowed:
                raise ProtocolError(BAD_REQUEST, f"op {op!r} takes no frame named {name!r}")
        if op == "generate":
            _check_generate(out, message)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, job=job, req=req) from None
    return out


def _check_generate(fields: dict[str, Any], message: Message) -> None:
    has_bytes = "video" in message.blobs
    if has_bytes and "video_path" in fields:
        raise ProtocolError(BAD_REQUEST, "send the video as a frame or as 'video_path', not both")
    if has_bytes and len(message.blobs["video"]) == 0:
        raise ProtocolError(BAD_REQUEST, "the video frame is empty")
    try:
        schema.check_range(fields, has_bytes or "video_path" in fields)
    except schema.RangeError as exc:
        raise ProtocolError(BAD_REQUEST, str(exc)) from None


def range_seconds(fields: dict[str, Any]) -> tuple[float | None, float | None]:
    """The requested range in seconds, from `start`/`end` or `start_frame`/`end_frame` + `fps`."""
    return schema.range_seconds(fields)


# ---- the local token ---------------------------------------------------------------------------
# A daemon without CURVE keys (loopback or ipc) answers only requests that carry the secret in
# its token file, a 0600 file in the user's configuration folder: only that user (and root) can
# read it, so other local users cannot use the daemon or probe its file system.

TOKEN_FILE_ENV = "MFMJT_TOKEN_FILE"


def user_config_dir() -> Path:
    """Where the user's mfmjt settings live (platformdirs' rule, standard library only)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mfmjt"


def token_path() -> Path:
    """`$MFMJT_TOKEN_FILE`, else `<user config dir>/mfmjt/daemon.token`."""
    env = os.environ.get(TOKEN_FILE_ENV, "").strip()
    return Path(env).expanduser() if env else user_config_dir() / "daemon.token"


def read_token(path: str | os.PathLike | None = None) -> str | None:
    """The local daemon's token, or None when the file is missing or unreadable."""
    try:
        text = Path(path or token_path()).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None
