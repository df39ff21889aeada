"""MF-MJT daemon (imports as `mfmjt_daemon`): ZeroMQ server, protocol v1 and thin client.

Client side, standard library + pyzmq only (vendorable as a package of four files):
`protocol` (constants, framing, request checks), `client` (Client, write_wav), `events`, `wav`.
Server side (needs mfmjt_core): `serve` (wiring for `mfmjt serve`), `server`, `jobs` (queue,
workers), `intake`, `keys` (CURVE).
Importing this package imports nothing else. The wire format is docs/protocol.md.
"""
