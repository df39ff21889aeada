"""`mfmjt resolve-bridge`: the daemon side of the Resolve scripts, as a command.

Resolve's free edition runs only Lua scripts (and Resolve's own Python rarely has pyzmq), so the
Resolve script renders the range and runs this command, which sends the file to the daemon,
writes a 24-bit WAV and reports on stdout, one tab-separated record per line:

    progress <TAB> fraction <TAB> stage
    result   <TAB> wav path <TAB> seed <TAB> samples <TAB> sample rate
    error    <TAB> code <TAB> message

Defaults come from the settings file that `mfmjt install-resolve` writes (`resolve.json`);
options on the command line win. Exit status as `mfmjt client`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

NAME = "resolve-bridge"
HELP = "send a rendered range to the daemon for the Resolve scripts (line-oriented output)"

_FROM_SETTINGS = ("prompt", "negative_prompt", "seed", "steps", "guidance", "channels", "address")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="the rendered range (the whole file is used)")
    parser.add_argument("--out", help="WAV to write (default: NAME_DATE.wav in the settings' audio_dir)")
    parser.add_argument("--name", default="mfmjt", help="base of the file name when --out is not given")
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


def _fail(code: str, message: str, status: int) -> int:
    record("error", code, message)
    return status


def output_path(args: argparse.Namespace, settings: dict) -> Path:
    """--out, else a dated file named after --name in the settings' audio folder."""
    if args.out:
        return Path(args.out).expanduser()
    folder = Path(settings.get("audio_dir") or Path.home() / "MF-MJT Audio").expanduser()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", args.name).strip("_") or "mfmjt"
    return folder / f"{safe}_{time.strftime('%Y%m%d-%H%M%S')}.wav"


def run(args: argparse.Namespace) -> int:
    from mfmjt_core.commands.client import _exit_code
    from mfmjt_daemon.client import Client, DaemonError, write_wav

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

    def progress(p) -> None:
        record("progress", f"{p.fraction:.3f}", p.stage)

    try:
        with Client(address, timeout=args.timeout) as client:
            result = client.generate(video, progress=progress, sample_rate=args.sample_rate, **params)
    except ValueError as exc:
        return _fail("bad_request", str(exc), 2)
    except DaemonError as exc:
        return _fail(exc.code, exc.message, _exit_code(exc.code))
    write_wav(out, result, 0)
    seed = result.seeds[0] if result.seeds else ""
    record("result", out.resolve(), seed, result.samples, result.sample_rate)
    print(f"wrote {out} ({result.samples / result.sample_rate:.3f} s)", file=sys.stderr)
    return 0
