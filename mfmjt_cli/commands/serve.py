"""`mfmjt serve`: run the daemon that editors and `mfmjt client` talk to (the options; the wiring is
`mfmjt_daemon.serve`)."""

from __future__ import annotations

import argparse

NAME = "serve"
HELP = "run the generation daemon (ZeroMQ, loopback by default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mfmjt_daemon.protocol import DEFAULT_PORT

    from mfmjt_cli.arg_types import at_least, listening_port

    parser.add_argument(
        "--port", type=listening_port, default=DEFAULT_PORT,
        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument("--bind", metavar="ADDR", help="full ZeroMQ endpoint instead, e.g. tcp://192.168.1.5:5557 "
                        "or ipc:///tmp/mfmjt; anything but loopback or ipc needs CURVE keys (--keys)")
    parser.add_argument("--model", metavar="NAME_OR_PATH", help="model to load (default: the embedded model; "
                        "'tiny-random' for tests)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps, or a comma list, one worker each")
    parser.add_argument("--workers", type=int, help="worker count (default: one per --device entry); "
                        "with --device cuda, workers use cuda:0..K-1")
    parser.add_argument("--keys", metavar="DIR", nargs="?", const="", help="use CURVE with the daemon keys in DIR "
                        "(default folder when DIR is left out; see `mfmjt keys`)")
    parser.add_argument("--max-queue", type=at_least(1, int), default=64,
                        help="waiting jobs before 'busy' (default 64)")
    parser.add_argument("--max-queue-per-client", type=at_least(1, int), default=16, metavar="N",
                        help="waiting jobs of one client before 'busy' (default 16)")
    parser.add_argument("--job-timeout", type=at_least(0.001, float), default=3600.0, metavar="SECONDS",
                        help="stop a job running longer than this, error 'time_limit' (default 3600)")
    parser.add_argument("--reconnect-grace", type=at_least(0.0, float), default=30.0, metavar="SECONDS",
                        help="keep a vanished client's jobs this long for it to reconnect with the same "
                        "identity; 0 cancels them at once (default 30)")
    parser.add_argument("--max-message-mb", type=at_least(1, int), default=512,
                        help="largest request accepted (default 512)")
    parser.add_argument("--max-seconds", type=at_least(1.0, float), default=600.0,
                        help="longest range or duration (default 600)")
    parser.add_argument("--heartbeat", type=at_least(0.1, float), default=2.0,
                        help="seconds between keepalives (default 2)")
    parser.add_argument("--allow-paths", action=argparse.BooleanOptionalAction, default=None,
                        help="accept local video paths (default: only on a loopback or ipc bind)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mfmjt_cli.arg_types import check_device

    for device in args.device.split(","):  # before the model loads onto it: one line, exit 2
        check_device(device.strip())

    from mfmjt_daemon.serve import ServeOptions, serve
    from mfmjt_daemon.server import ServerConfig

    limits = ServerConfig(max_message_bytes=args.max_message_mb * 2**20, max_queue=args.max_queue,
                          max_queue_per_client=args.max_queue_per_client, job_timeout_s=args.job_timeout,
                          reconnect_grace_s=args.reconnect_grace, max_seconds=args.max_seconds,
                          heartbeat_s=args.heartbeat, allow_paths=args.allow_paths)
    return serve(ServeOptions(bind=args.bind or f"tcp://127.0.0.1:{args.port}", model=args.model, device=args.device,
                              workers=args.workers, curve=args.keys is not None,
                              keys_dir=Path(args.keys) if args.keys else None,
                              log_level=args.log_level, server=limits))
