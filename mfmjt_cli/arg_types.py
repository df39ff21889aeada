"""argparse types and checks the commands share: a request field's bounds from the schema, a
number with a floor, a TCP port, a torch device. A bad value is one usage line (exit 2)."""

from __future__ import annotations

import argparse

import mfmjt_schema
from mfmjt_core.errors import UsageError


def option_type(spec: mfmjt_schema.Field):
    """argparse `type` for a schema field: parses the text, checks the bounds, and lets argparse
    turn a bad value into one usage line (exit 2) naming the option and what fits."""
    def parse(text: str):
        try:
            value = {"int": int, "number": float}.get(spec.kind, str)(text)
            if spec.kind == "choice" and spec.choices and type(spec.choices[0]) is int:
                value = int(text)
            return spec.check(value)
        except (ValueError, mfmjt_schema.FieldError):
            raise argparse.ArgumentTypeError(f"must be {spec.what()}, got {text!r}") from None
    parse.__name__ = spec.kind  # argparse names the type in some messages
    return parse


def at_least(low: float, kind: type):
    """An argparse type: a finite number of `kind` >= low (a bad value is a usage error)."""
    def parse(text: str):
        import math

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"{text} must be at least {low:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


def tcp_port(text: str, low: int = 1) -> int:
    """An argparse type: a TCP port, 1-65535 (ZeroMQ would wrap 99999 round to another port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not low <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use {low}-65535")
    return port


def listening_port(text: str) -> int:
    """A port to listen on: 1-65535, or 0 for any free one (the daemon prints which)."""
    return tcp_port(text, low=0)


def check_device(name: str) -> str:
    """`name` if torch can use it here, else UsageError (before a model is loaded onto it)."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"unknown device {name!r}: use cpu, cuda, cuda:1, mps ...") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise UsageError(f"device {name!r} is not available here (CUDA devices: {torch.cuda.device_count()})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("device 'mps' is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"device {name!r} is not supported: use cpu, cuda or mps")
    return name
