"""`mfmjt client`: generate through a running daemon (`mfmjt serve`), for scripting."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "client"
HELP = "generate sound through a running daemon (the request options of `generate`; the daemon has the model)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mfmjt_cli.arg_types import at_least, tcp_port
    from mfmjt_cli.commands.generate import add_request_arguments

    add_request_arguments(parser)  # the same request options as `mfmjt generate`
    parser.add_argument("--address", help="daemon endpoint (default $MFMJT_DAEMON or tcp://127.0.0.1:5557)")
    parser.add_argument("--port", type=tcp_port, help="daemon port on 127.0.0.1 (instead of --address)")
    parser.add_argument("--send", choices=["auto", "path", "bytes"], default="auto",
                        help="send the video path (same machine) or its bytes (default: path when local)")
    parser.add_argument("--timeout", type=at_least(0.1, float), default=10.0,
                        help="seconds before re-trying (default 10)")
    parser.add_argument("--server-key", help="daemon public key (Z85 or .key file) to use CURVE")
    parser.add_argument("--client-key", help="this client's .key_secret file (from `mfmjt keys client`)")
    parser.add_argument("--json", action="store_true", help="print the result's metadata as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _progress_printer(quiet: bool):
    """One updating line on a terminal; one line per stage otherwise (logs, pipes)."""
    tty, last = sys.stderr.isatty(), [None]

    def show(p) -> None:
        if quiet or (not tty and p.stage == last[0]):
            return
        last[0] = p.stage
        eta = f", {p.eta_s:.1f} s left" if p.eta_s is not None else ""
        where = f" (position {p.position})" if p.position else ""
        text = f"{p.stage}{where}: {100 * p.fraction:5.1f}%{eta}"
        print(f"\r{text}   " if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    import zmq
    from mfmjt_daemon.client import Client, DaemonError
    from mfmjt_daemon.events import levels_text

    from mfmjt_cli.commands.generate import check_outputs, print_loudness_note, request_fields
    from mfmjt_core.errors import exit_code_for
    from mfmjt_core.media.output_set import write_audio_set

    address = args.address or (f"tcp://127.0.0.1:{args.port}" if args.port else None)
    params = request_fields(args)
    paths = check_outputs(args)  # before anything is sent: a bad name must not cost a generation
    try:
        with Client(address, timeout=args.timeout, server_key=args.server_key, client_key=args.client_key) as client:
            send = _how_to_send(client, args.video, args.send)
            result = client.generate(args.video, progress=_progress_printer(args.quiet), send=send, **params)
    except ValueError as exc:
        print(f"mfmjt client: {exc}", file=sys.stderr)
        return 2
    except zmq.ZMQError as exc:  # an address ZeroMQ cannot even parse
        print(f"mfmjt client: cannot reach {address!r} ({exc}): give a ZeroMQ endpoint such as "
              "tcp://127.0.0.1:5557 or ipc:///path/to/socket", file=sys.stderr)
        return 2
    except DaemonError as exc:
        if not args.quiet and sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"mfmjt client: {exc.message} [{exc.code}]", file=sys.stderr)
        return exit_code_for(exc.code)
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    write_audio_set(paths[:result.variations], list(result.to_numpy()), result.sample_rate, subtype="PCM_24")
    if args.json:
        meta = {k: v for k, v in result.header.items() if k not in ("frames", "v", "op", "instance")}
        print(json.dumps({**meta, "files": [str(p) for p in paths]}, indent=2))
    else:
        levels = result.levels or [None] * len(paths)
        for path, seed, level in zip(paths, result.seeds, levels):
            print(f"{path}  (seed {seed}, {result.samples / result.sample_rate:.2f} s, {result.sample_rate} Hz, "
                  f"{result.channels} ch{'' if level is None else ', ' + levels_text(level)})")
            print_loudness_note(path, level, args.loudness)
    return 0


def _how_to_send(client, video: str | None, send: str) -> str:
    """The daemon's own word on a video's way there (its `hello`): "auto" becomes bytes where the
    daemon reads no paths, and bytes it would drop as too large are refused here, at once, with
    its limit (otherwise the upload is sent three times and ends as 'no answer')."""
    import os

    from mfmjt_daemon import protocol
    from mfmjt_daemon.client import DaemonError

    if video is None or send == "path":
        return send
    hello = client.hello()
    if send == "auto":
        send = "path" if protocol.is_local_endpoint(client.address) and hello.get("paths", True) else "bytes"
    limit = hello.get("limits", {}).get("max_message_bytes")
    size = os.path.getsize(video)
    if send == "bytes" and limit is not None and size + protocol.MAX_HEADER_BYTES > limit:
        raise DaemonError(protocol.TOO_LARGE, f"{video} is {size / 2**20:.1f} MiB; this daemon takes requests up "
                                              f"to {limit / 2**20:.1f} MiB (`mfmjt serve --max-message-mb`): "
                                              "send a shorter render, or its path on the daemon's machine")
    return send
