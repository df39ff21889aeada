"""`mfmjt keys`: CURVE keys for a daemon reachable from other machines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "keys"
HELP = "create daemon keys and authorise clients (CURVE), for binds beyond loopback"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="keys folder (default: $MFMJT_KEYS or the user config folder)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="create the daemon's key pair")
    init.add_argument("--force", action="store_true", help="replace existing daemon keys")
    client = sub.add_parser("client", help="create a client key pair and authorise it")
    client.add_argument("name", help="a name for the client (letters, digits, . _ -)")
    auth = sub.add_parser("authorize", help="authorise a client's public key file (*.key)")
    auth.add_argument("public_key", help="the client's .key file")
    sub.add_parser("show", help="print the daemon's public key and the authorised clients")


def run(args: argparse.Namespace) -> int:
    from mfmjt_daemon import keys

    folder = Path(args.dir).expanduser() if args.dir else keys.default_keys_dir()
    if args.action == "init":
        public = keys.create_server_keys(folder, overwrite=args.force)
        print(f"daemon keys in {folder}; give clients the public key {public}")
        print(f"then: mfmjt serve --bind tcp://ADDR:PORT --keys {folder}")
    elif args.action == "client":
        public, secret = keys.create_client_keys(folder, args.name)
        print(f"client {args.name!r} authorised; copy {public} and {secret} to that machine and use "
              f"`--client-key {secret.name} --server-key server.key`")
    elif args.action == "authorize":
        copy = keys.authorize(folder, Path(args.public_key))
        print(f"authorised {copy.stem} ({copy})")
    else:
        server = keys.load_server_keys(folder)
        print(f"daemon public key: {server.public.decode()}  ({folder / 'server.key'})")
        names = [p.stem for p in keys.authorized_keys(folder)]
        print("authorised clients: " + (", ".join(names) if names else "none"), file=sys.stdout)
    return 0
