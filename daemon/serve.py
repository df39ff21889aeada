"""The daemon's wiring: from `mfmjt serve`'s options to a running server.

Loads one Generator per worker device, builds the server's configuration and runs the I/O loop
until SIGINT or SIGTERM. The command line (`mfmjt_cli/commands/serve.py`) only parses options
into a `ServeOptions` and calls `serve`.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mfmjt_daemon.keys import default_keys_dir, load_server_keys
from mfmjt_daemon.protocol import DEFAULT_PORT, is_local_endpoint
from mfmjt_daemon.server import Server, ServerConfig

log = logging.getLogger("mfmjt_daemon.serve")


@dataclass(frozen=True)
class ServeOptions:
    """What the daemon was asked for; nothing is loaded until `serve` runs."""

    bind: str = f"tcp://127.0.0.1:{DEFAULT_PORT}"
    model: str | None = None  # name or path; None: the embedded model
    device: str = "cpu"  # a device or a comma list, one worker each
    workers: int | None = None  # None: one per `device` entry
    curve: bool = False  # CURVE encryption and client authentication
    keys_dir: Path | None = None  # where the CURVE keys are; None: the default folder
    log_level: str = "info"
    # Limits and timings; `bind` and `keys` in it are replaced by the fields above.
    server: ServerConfig = field(default_factory=ServerConfig)


def devices_for(device: str, workers: int | None) -> list[str]:
    """One device name per worker: `cuda` with K workers means cuda:0..K-1; a list cycles."""
    names = [d.strip() for d in device.split(",") if d.strip()] or ["cpu"]
    if workers is None:
        return names
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if names == ["cuda"]:
        return [f"cuda:{i}" for i in range(workers)]
    return [names[i % len(names)] for i in range(workers)]


def _configure_logging(level: str) -> None:
    # Our loggers at the chosen level; other libraries stay at the command line's (warnings).
    for name in ("mfmjt_daemon", "mfmjt_core"):
        logging.getLogger(name).setLevel(level.upper())
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def serve(options: ServeOptions) -> int:
    """Run the daemon until it is stopped; the process exit status (2: refused options, 1: the
    address could not be bound). Refusals come before any model is loaded."""
    _configure_logging(options.log_level)
    keys = load_server_keys(options.keys_dir or default_keys_dir()) if options.curve else None
    if keys is None and not is_local_endpoint(options.bind):
        print(f"mfmjt serve: refusing to listen on {options.bind} without CURVE keys; only 127.0.0.1, ::1, "
              "localhost and ipc:// may run without them. Run `mfmjt keys init`, authorise clients with "
              "`mfmjt keys client NAME`, then pass --keys.", file=sys.stderr)
        return 2
    try:
        devices = devices_for(options.device, options.workers)
    except ValueError as exc:
        print(f"mfmjt serve: {exc}", file=sys.stderr)
        return 2

    from mfmjt_core.media import levels
    from mfmjt_core.pipeline.generator import Generator

    levels.load()  # output levels are measured on every job
    generators = []
    for device in devices:
        log.info("loading model %s on %s", options.model or "(embedded default)", device)
        generators.append(Generator.load(options.model, device=device, max_duration=options.server.max_seconds))
        try:
            log.info("warmed up %s in %.1f s", device, generators[-1].warm_up())
        except Exception as exc:  # requests report their own errors; the daemon still serves
            log.warning("warm-up on %s failed (%s); the first request may be slow or fail the same way",
                        device, exc)
    server = Server(generators, dataclasses.replace(options.server, bind=options.bind, keys=keys))
    try:
        endpoint = server.start()
    except OSError as exc:
        print(f"mfmjt serve: {exc}", file=sys.stderr)
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.request_stop())
    print(f"mfmjt serve: ready on {endpoint}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0
