"""The daemon side of the Resolve scripts, run as `mfmjt resolve-bridge` in mfmjt's own Python.

Resolve's free edition runs only Lua scripts (and Resolve's own Python rarely has pyzmq), so the
Resolve script renders the range and runs this command, which sends the file to the daemon,
writes a 24-bit WAV and reports on stdout, one tab-separated record per line:

    progress <TAB> fraction <TAB> stage
    result   <TAB> wav path <TAB> seed <TAB> samples <TAB> sample rate
    error    <TAB> code <TAB> message

Defaults come from the settings file that `mfmjt install-resolve` writes (`resolve.json`);
options on the command line win. The Resolve scripts pass everything taken from the project
(timeline name, marker text) in a JSON request file, `--request FILE`, whose keys are the
options' names (`video`, `name`, `prompt`, `settings`, ...): text in a file needs no shell
quoting, and on Windows no quoting makes `"`, `&` or `%` safe in every position. Options on the
command line win over the request file. Exit status as `mfmjt client` (the command passes its
table of wire error codes to exit statuses in). Not copied into Resolve: standard library and the
daemon client only, like the rest of the plugin.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

_FROM_SETTINGS = ("prompt", "negative_prompt", "seed", "steps", "guidance", "channels", "address")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", nargs="?", help="the rendered range (the whole file is used)")
    parser.add_argument("--request", help="JSON object with any of these options (keys as the option names)")
    parser.add_argument("--out", help="WAV to write (default: NAME_DATE.wav in the settings' audio_dir)")
    parser.add_argument("--name", help="base of the file name when --out is not given (default mfmjt)")
    parser.add_argument("--settings", help="resolve.json with defaults (written by `mfmjt install-resolve`)")
    parser.add_argument("--address", help="daemon endpoint (default: settings, $MFMJT_DAEMON, tcp://127.0.0.1:5557)")
    parser.add_argument("--prompt")
    parser.add_argument("--negative-prompt")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--guidance", type=float)
    parser.add_argument("--channels", type=int, choices=[1, 2])
    parser.add_argument("--sample-rate", type=int, default=48_000)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before re-trying (default 10)")


def record(kind: str, *fields: object) -> None:
    """Print one protocol record; tabs and newlines inside fields become spaces."""
    text = "\t".join(re.sub(r"[\t\r\n]+", " ", str(f)) for f in (kind, *fields))
    print(text, flush=True)


def load_settings(path: str | None) -> dict:
    """The settings file as a dict ({} when not given); a broken file is a usage error."""
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(_fail("bad_request", f"cannot read settings {path}: {exc}", 2)) from None


_REQUEST_KEYS = ("video", "out", "name", "settings", *_FROM_SETTINGS)


def apply_request_file(args: argparse.Namespace) -> None:
    """Fill the options not given on the command line from `--request FILE` (a JSON object)."""
    if not args.request:
        return
    try:
        data = json.loads(Path(args.request).read_bytes().decode("utf-8", errors="replace"))
    except (OSError, ValueError) as exc:
        raise SystemExit(_fail("bad_request", f"cannot read the request file {args.request}: {exc}", 2)) from None
    if not isinstance(data, dict):
        raise SystemExit(_fail("bad_request", f"the request file {args.request} is not a JSON object", 2))
    unknown = sorted(set(data) - set(_REQUEST_KEYS))
    if unknown:
        raise SystemExit(_fail("bad_request", f"unknown keys in the request file: {', '.join(unknown)}", 2))
    types = {"seed": int, "steps": int, "guidance": float, "channels": int}
    for key, value in data.items():
        if getattr(args, key, None) is None and value is not None:
            try:
                setattr(args, key, types.get(key, str)(value))
            except (TypeError, ValueError):
                raise SystemExit(_fail("bad_request", f"{key} in the request file must be a number",
                                       2)) from None


def _fail(code: str, message: str, status: int) -> int:
    record("error", code, message)
    return status


def output_path(args: argparse.Namespace, settings: dict) -> Path:
    """--out, else a dated file named after --name in the settings' audio folder."""
    if args.out:
        return Path(args.out).expanduser()
    folder = Path(settings.get("audio_dir") or Path.home() / "MF-MJT Audio").expanduser()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(args.name or "")).strip("_") or "mfmjt"
    return folder / f"{safe}_{time.strftime('%Y%m%d-%H%M%S')}.wav"


def run(args: argparse.Namespace, exit_code_for: Callable[[str], int]) -> int:
    """Send the range, write the WAV, print the records; the exit status (`exit_code_for` maps a
    wire error code to it)."""
    from mfmjt_daemon.client import Client, DaemonError, write_wav
    from mfmjt_daemon.job_state import DONE, JobWatch, follow

    apply_request_file(args)
    if not args.video:
        return _fail("bad_request", "no video given (on the command line or in the request file)", 2)
    settings = load_settings(args.settings)
    options = {k: getattr(args, k) if getattr(args, k) is not None else settings.get(k) for k in _FROM_SETTINGS}
    video = Path(args.video)
    if not video.is_file():
        return _fail("bad_media", f"{video} is not a file", 3)
    out = output_path(args, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    address = options.pop("address")
    params = {k: v for k, v in options.items() if v not in (None, "")}
    params.setdefault("channels", 2)

    def progress(state, now) -> None:  # the whole line the state machine shows, as the stage
        if not state.finished:
            record("progress", f"{state.fraction:.3f}", state.text(now))

    try:
        with Client(address, timeout=args.timeout) as client:
            job = client.submit(video, sample_rate=args.sample_rate, **params)
            state = follow(client, job.id, JobWatch(), progress)
    except ValueError as exc:
        return _fail("bad_request", str(exc), 2)
    except DaemonError as exc:
        return _fail(exc.code, exc.message, exit_code_for(exc.code))
    if state.phase != DONE:
        code = job.error.code if job.error is not None else "unavailable"
        return _fail(code, state.text(0.0), exit_code_for(code))  # "failed: the daemon shut down (...)"
    result = job.result
    write_wav(out, result, 0)
    seed = result.seeds[0] if result.seeds else ""
    record("result", out.resolve(), seed, result.samples, result.sample_rate)
    print(f"wrote {out} ({result.samples / result.sample_rate:.3f} s)", file=sys.stderr)
    return 0
