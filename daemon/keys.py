"""CURVE keys for the daemon, and the rule that decides when they are required.

Layout of a keys folder (default: the user config folder's `mfmjt/keys`):

    server.key           the daemon's public key (give it to clients)
    server.key_secret    the daemon's secret key (mode 600, never leaves the machine)
    authorized/*.key     public keys of the clients allowed to connect
    clients/NAME.key     key pairs made here for clients (`mfmjt keys client NAME`);
    clients/NAME.key_secret   copy both files to the client machine

Files are pyzmq's certificate format (`zmq.auth.load_certificate` reads them).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

from mfmjt_core.errors import MfmjtError

log = logging.getLogger("mfmjt_daemon.keys")

SERVER = "server"
AUTHORIZED = "authorized"
CLIENTS = "clients"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")


class KeysError(MfmjtError):
    """Keys are missing or unusable, or a bind needs keys that were not given."""

    exit_code = 2
    code = "keys"


@dataclass(frozen=True)
class ServerKeys:
    public: bytes  # Z85, 40 bytes
    secret: bytes
    authorized_dir: Path


def default_keys_dir() -> Path:
    """`<user config dir>/mfmjt/keys`, or `$MFMJT_KEYS` when set."""
    if os.environ.get("MFMJT_KEYS"):
        return Path(os.environ["MFMJT_KEYS"]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("mfmjt")) / "keys"


def _private(path: Path) -> None:
    os.chmod(path, 0o600)


def create_server_keys(folder: Path, *, overwrite: bool = False) -> Path:
    """Make the daemon's key pair in `folder`; returns the public key file."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    public = folder / f"{SERVER}.key"
    if public.exists() and not overwrite:
        raise KeysError(f"{public} exists; pass --force to replace the daemon's keys")
    (folder / AUTHORIZED).mkdir(exist_ok=True, mode=0o700)
    pub, sec = zmq.auth.create_certificates(str(folder), SERVER)
    _private(Path(sec))
    return Path(pub)


def create_client_keys(folder: Path, name: str, *, authorize_it: bool = True) -> tuple[Path, Path]:
    """Make a client key pair under `folder/clients/` and (by default) authorise it."""
    if not _NAME.match(name) or name == SERVER:
        raise KeysError(f"client name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    target = folder / CLIENTS
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (target / f"{name}.key").exists():
        raise KeysError(f"client keys {name!r} exist already in {target}")
    pub, sec = zmq.auth.create_certificates(str(target), name)
    _private(Path(sec))
    if authorize_it:
        authorize(folder, Path(pub))
    return Path(pub), Path(sec)


def authorize(folder: Path, public_key_file: Path) -> Path:
    """Allow the client whose public key file is given; returns the copy in `authorized/`."""
    public, _ = _load(public_key_file)
    if public is None:
        raise KeysError(f"{public_key_file} holds no public key")
    target = folder / AUTHORIZED
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    copy = target / (public_key_file.stem + ".key")
    if copy.resolve() != public_key_file.resolve():
        shutil.copyfile(public_key_file, copy)
    return copy


def authorized_keys(folder: Path) -> list[Path]:
    return sorted((folder / AUTHORIZED).glob("*.key"))


def _load(path: Path) -> tuple[bytes | None, bytes | None]:
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeysError(f"cannot read key file {path}: {exc}") from None


def load_server_keys(folder: Path) -> ServerKeys:
    """The daemon's keys from `folder`; KeysError naming `mfmjt keys init` when missing."""
    secret_file = folder / f"{SERVER}.key_secret"
    if not secret_file.is_file():
        raise KeysError(f"no daemon keys in {folder}: run `mfmjt keys init` (and "
                        "`mfmjt keys client NAME` for each client)")
    public, secret = _load(secret_file)
    if public is None or secret is None:
        raise KeysError(f"{secret_file} does not hold a key pair")
    return ServerKeys(public, secret, folder / AUTHORIZED)


class _AuthorizedFolder:
    """ZAP credentials check: the client's key must be in `authorized/`, read at each
    handshake, so `mfmjt keys authorize` takes effect without restarting the daemon."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = set()
        for path in authorized_keys(self.folder.parent):
            try:
                public, _ = zmq.auth.load_certificate(str(path))
            except (OSError, ValueError):
                continue
            if public:
                allowed.add(public)
        ok = key in allowed
        if not ok:
            log.warning("refused a client key that is not authorised: %s", key.decode("ascii", "replace"))
        return ok


def start_authenticator(context: zmq.Context, keys: ServerKeys):
    """Start a ZAP handler (a thread inside pyzmq) admitting only the authorised client keys.

    Returns the authenticator; call its `stop()` on shutdown.
    """
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=_AuthorizedFolder(keys.authorized_dir))
    return auth


def apply_server_keys(socket: zmq.Socket, keys: ServerKeys) -> None:
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public
    socket.curve_server = True
