"""Reaching the daemon: one client per configuration, a quick "is anyone there" test, starting a
local daemon, and a background hello for the panel's status line.

The ZeroMQ client is the daemon's own reference client, vendored into `vendor/mfmjt_client`
by build.py. Nothing here touches Blender data.
"""

from __future__ import annotations

import os
import queue
import shlex
import socket
import subprocess
import threading
from typing import Any

from . import compat
from .preferences import DaemonConfig

RETRIES = 2  # re-sends before the daemon counts as gone (three tries in all)


class LinkError(Exception):
    """The daemon cannot be used right now; the message is written for the editor."""


def client_module() -> Any:
    """The vendored `client` module (imports pyzmq)."""
    try:
        from .vendor.mfmjt_client import client
    except ImportError as exc:
        raise LinkError(f"The MF-MJT client cannot load ({exc}). Reinstall the extension: its "
                        "pyzmq wheel or its vendored client is missing.") from None
    return client


_clients: dict[DaemonConfig, Any] = {}
_started: dict[str, subprocess.Popen] = {}
_hellos: queue.Queue = queue.Queue()  # (scene name, text) from hello threads, drained on the main thread
_hello_threads: list[threading.Thread] = []


def _connection_key(config: DaemonConfig) -> DaemonConfig:
    # Settings that do not change the socket share one client (and so its jobs).
    return DaemonConfig(address=config.address, server_key=config.server_key, client_key=config.client_key,
                        timeout_s=config.timeout_s)


def _check_allowed(config: DaemonConfig) -> None:
    """A daemon on another machine needs Blender's online access and CURVE keys (main thread:
    it reads Blender's settings)."""
    if client_module().protocol.is_local_endpoint(config.address):
        return
    if not compat.online_access():
        raise LinkError(f"{config.address} is another machine and Blender's online access is off "
                        "(Preferences > System > Network > Allow Online Access).")
    if not config.server_key:
        raise LinkError(f"{config.address} is another machine: set the daemon's server key and this "
                        "machine's client key in the add-on preferences (CURVE).")


def _new_client(config: DaemonConfig, timeout_s: float, retries: int) -> Any:
    """A new client socket (safe on any thread: it reads no Blender state)."""
    module = client_module()
    try:
        return module.Client(config.address, timeout=timeout_s, retries=retries,
                             server_key=config.server_key or None, client_key=config.client_key or None)
    except (ValueError, OSError) as exc:
        raise LinkError(f"Cannot use the CURVE keys: {exc}") from None
    except module.zmq.ZMQError as exc:
        raise LinkError(f"Cannot connect to {config.address!r}: {exc}") from None


def client_for(config: DaemonConfig) -> Any:
    """The shared client for this configuration (made on first use). Raises LinkError."""
    key = _connection_key(config)
    if key not in _clients:
        _check_allowed(config)
        _clients[key] = _new_client(config, config.timeout_s, RETRIES)
    return _clients[key]


def close_all() -> None:
    """Close every client; the daemon cancels their unfinished jobs."""
    for client in _clients.values():
        client.close()
    _clients.clear()


def nobody_listens(address: str) -> bool:
    """True when a local endpoint certainly has no daemon: the TCP port refuses, or the ipc
    socket file is missing. Instant on loopback; remote addresses are never probed here (that
    could block), so they report False and the client's timeout decides."""
    if address.startswith("ipc://"):
        return not os.path.exists(address[len("ipc://"):])
    if not address.startswith("tcp://"):
        return False
    host, _, port = address[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    if host not in ("127.0.0.1", "::1", "localhost") or not port.isdigit():
        return False
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def start_daemon(command: str) -> subprocess.Popen:
    """Start `command` detached (once: a still-running earlier start is reused). Raises LinkError."""
    running = _started.get(command)
    if running is not None and running.poll() is None:
        return running
    # Detached: the daemon keeps serving after Blender quits, and Ctrl-C in Blender's console misses it.
    if os.name == "nt":
        detach = {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        detach = {"start_new_session": True}
    try:
        args = shlex.split(command, posix=os.name != "nt")
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, **detach)
    except (OSError, ValueError) as exc:
        raise LinkError(f"The start command failed: {exc}") from None
    _started[command] = process
    return process


def started_processes() -> list[subprocess.Popen]:
    """Daemons this session started (still running or not)."""
    return list(_started.values())


def connect(config: DaemonConfig) -> tuple[Any, bool]:
    """A client for a daemon that is there or being started: (client, started_now).

    Raises LinkError with a message for the panel when no daemon listens locally and no start
    command is set. A started daemon needs some seconds to load its model; requests wait for
    it in ZeroMQ's queue, and the client re-sends them until the timeout runs out.
    """
    started = False
    if nobody_listens(config.address):
        if not config.start_command:
            raise LinkError(f"No MF-MJT daemon is running at {config.address}. Start one with "
                            "`mfmjt serve`, or set a start command in the add-on preferences.")
        start_daemon(config.start_command)
        started = True
    return client_for(config), started


def _hello_text(info: dict[str, Any]) -> str:
    models = ", ".join(f"{m.get('name')} on {m.get('device')}" for m in info.get("models", [])) or "no model"
    return f"Ready: {info.get('server', 'mfmjt')}, {models}"


def check_in_background(config: DaemonConfig, scene_name: str) -> None:
    """Say hello on a worker thread with its own socket; the answer (one line of text) is picked
    up by `hello_answers()` on the main thread."""
    if nobody_listens(config.address):
        _hellos.put((scene_name, f"Not running at {config.address}"))
        return
    try:
        _check_allowed(config)
    except LinkError as exc:
        _hellos.put((scene_name, str(exc)))
        return

    def work() -> None:
        try:
            client = _new_client(config, min(config.timeout_s, 3.0), 0)
        except LinkError as exc:
            _hellos.put((scene_name, str(exc)))
            return
        try:
            _hellos.put((scene_name, _hello_text(client.hello())))
        except Exception as exc:  # reported in the panel; a thread must not die silently
            _hellos.put((scene_name, f"No answer: {getattr(exc, 'message', exc)}"))
        finally:
            client.close()

    thread = threading.Thread(target=work, name="mfmjt-hello", daemon=True)
    _hello_threads.append(thread)
    thread.start()


def checks_pending() -> bool:
    """True while a hello thread runs or its answer waits to be read."""
    _hello_threads[:] = [t for t in _hello_threads if t.is_alive()]
    return bool(_hello_threads) or not _hellos.empty()


def hello_answers() -> list[tuple[str, str]]:
    """(scene name, status text) pairs that arrived since the last call."""
    answers = []
    while True:
        try:
            answers.append(_hellos.get_nowait())
        except queue.Empty:
            return answers
