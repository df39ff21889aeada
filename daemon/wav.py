"""Writing daemon results as 24-bit PCM WAV with the standard library (numpy optional).

Standard library only, like `client.py` and `protocol.py`, so editors need nothing else.
"""

from __future__ import annotations

import math
import os
import sys
import wave
from array import array
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import Result

_FULL_SCALE = 8_388_607  # 2**23 - 1


def pcm24(result: Result, variation: int = 0) -> bytes:
    """One variation as interleaved 24-bit little-endian PCM (clipped to [-1, 1])."""
    planar = result.variation(variation)
    channels, samples = result.channels, result.samples
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        x = np.frombuffer(planar, dtype="<f4").reshape(channels, samples).T.astype(np.float64)
        ints = np.ascontiguousarray(np.round(np.clip(np.nan_to_num(x), -1.0, 1.0) * _FULL_SCALE), dtype="<i4")
        return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    floats = array("f")
    floats.frombytes(planar)
    if sys.byteorder == "big":
        floats.byteswap()
    inter = floats if channels == 1 else array("f", bytes(len(floats) * 4))
    for c in range(1 if channels == 1 else channels):
        if channels > 1:
            inter[c::channels] = floats[c * samples:(c + 1) * samples]
    full = float(_FULL_SCALE)
    ints = array("i", [0 if math.isnan(x) else round(max(-1.0, min(1.0, x)) * full) for x in inter])
    if sys.byteorder == "big":
        ints.byteswap()
    raw = ints.tobytes()
    out = bytearray(len(ints) * 3)
    for k in range(3):  # keep the three low bytes of each little-endian int32
        out[k::3] = raw[k::4]
    return bytes(out)


def write_wav(path: str | os.PathLike, result: Result, variation: int = 0) -> Path:
    """Write one variation as a 24-bit PCM WAV file (standard library `wave`), atomically:
    a reader never sees a half-written file. Returns the path."""
    target = Path(path).expanduser()
    temp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        # (the file opened first: a wave writer whose file failed to open prints an error when collected)
        with open(temp, "wb") as file, wave.open(file, "wb") as out:
            out.setnchannels(result.channels)
            out.setsampwidth(3)
            out.setframerate(result.sample_rate)
            out.writeframes(pcm24(result, variation))
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
