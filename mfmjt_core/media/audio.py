"""Reading the audio of any media file, and writing WAV / FLAC files atomically."""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from mfmjt_core.media.atomic import atomic_output, write_bytes
from mfmjt_core.media.container import (
    as_path,
    check_range,
    container_duration_s,
    decode_from,
    open_media,
    require_audio_stream,
)
from mfmjt_core.media.media_errors import (
    MediaUnreadableError,
    MediaWriteError,
    RangeOutsideMediaError,
)
from mfmjt_core.media.resample import fit_length, resample

# AAC and other MDCT codecs need the previous frame to decode a frame cleanly after a seek.
_AUDIO_PREROLL_S = 0.2

# Integer sample formats -> full-scale value, so all audio reads as float in [-1, 1).
_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}

# ITU-R BS.775 style fold-down of surround channels into left/right (LFE dropped).
_LEFT = {"FL": 1.0, "FC": 0.7071, "BL": 0.7071, "SL": 0.7071, "FLC": 0.7071, "BC": 0.5}
_RIGHT = {"FR": 1.0, "FC": 0.7071, "BR": 0.7071, "SR": 0.7071, "FRC": 0.7071, "BC": 0.5}

_FORMAT_BY_SUFFIX = {".wav": "WAV", ".flac": "FLAC"}
_SUBTYPES = ("FLOAT", "PCM_24", "PCM_16")


def read_audio(
    path: str | os.PathLike,
    *,
    start: float = 0.0,
    end: float | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
) -> tuple[np.ndarray, int]:
    """Audio of [start, end) seconds of the first audio stream of any container.

    Returns (float32 (C, N), sample rate). `sample_rate` resamples (see `resample`); `channels`
    mixes to mono (1) or stereo (2). When the stream covers the range, N is exactly
    round((end - start) * rate); a range past the end of the audio returns what exists.
    """
    p = as_path(path)
    with open_media(p) as container:
        stream = require_audio_stream(container, p)
        check_range(p, start, end, container_duration_s(container))
        native_sr = stream.codec_context.sample_rate
        if not native_sr:
            raise MediaUnreadableError(f"audio stream of {p} has no sample rate")
        wave, names, decoded_end = _decode_range(container, stream, native_sr, start, end)
    if wave.shape[1] == 0:
        if decoded_end is not None:
            raise RangeOutsideMediaError(
                f"the audio of {p} ends at {decoded_end:.3f} s, before the range starts "
                f"at {start:.3f} s"
            )
        raise MediaUnreadableError(f"no audio of {p} could be decoded from {start:.3f} s on")
    wave = mix_channels(wave, channels, names)
    rate = native_sr
    if sample_rate is not None and int(sample_rate) != native_sr:
        complete = end is not None and wave.shape[1] == _samples(start, end, native_sr)
        rate = int(sample_rate)
        wave = resample(wave, native_sr, rate)
        if complete:
            wave = fit_length(wave, _samples(start, end, rate))
    return np.ascontiguousarray(wave, dtype=np.float32), rate


def _samples(start: float, end: float, rate: int) -> int:
    return round(Fraction(end) * rate) - round(Fraction(start) * rate)


def _decode_range(container, stream, rate: int, start: float, end: float | None):
    """Samples [round(start*rate), round(end*rate)) placed by the first frame's timestamp.

    Returns (wave, channel names, end time of the decoded audio or None if nothing decoded).
    """
    first_wanted = round(Fraction(start) * rate)
    stop = round(Fraction(end) * rate) if end is not None else None
    chunks: list[np.ndarray] = []
    origin = None  # sample index of the first decoded sample
    have = 0
    names: list[str] = []
    for t, frame in decode_from(container, stream, Fraction(start), preroll_s=_AUDIO_PREROLL_S):
        if frame.samples == 0:
            continue
        if origin is None:
            origin = round(t * rate)
            names = [c.name for c in frame.layout.channels]
        chunks.append(_frame_to_float(frame))
        have += frame.samples
        if stop is not None and origin + have >= stop:
            break
    if origin is None:
        return np.zeros((1, 0), np.float32), names, None
    wave = np.concatenate(chunks, axis=1)
    lead = origin - first_wanted
    if lead > 0:  # audio starts after `start`: silence keeps the samples on the timeline
        wave = np.pad(wave, ((0, 0), (lead, 0)))
    else:
        wave = wave[:, -lead:]
    if stop is not None:
        wave = wave[:, : stop - first_wanted]
    return wave, names, (origin + have) / rate


def _frame_to_float(frame) -> np.ndarray:
    """(channels, samples) float32 from any PyAV audio frame format."""
    fmt = frame.format.name
    data = frame.to_ndarray()
    base = fmt.rstrip("p")
    if not frame.format.is_planar:
        data = data.reshape(-1, frame.layout.nb_channels).T
    if base in _INT_SCALE:
        offset = 128.0 if base == "u8" else 0.0
        return ((data.astype(np.float64) - offset) / _INT_SCALE[base]).astype(np.float32)
    return data.astype(np.float32, copy=False)


def mix_channels(wave: np.ndarray, channels: int | None, names: list[str] | None = None):
    """`wave` (C, N) as `channels` channels: None keeps, 1 averages, 2 folds surround down."""
    have = wave.shape[0]
    if channels is None or channels == have:
        return wave
    if channels == 1:
        return (_fold_to_stereo(wave, names) if have > 2 else wave).mean(axis=0, keepdims=True)
    if channels == 2:
        return np.repeat(wave, 2, axis=0) if have == 1 else _fold_to_stereo(wave, names)
    raise ValueError(f"can mix {have} channels to 1 or 2, not {channels}")


def _fold_to_stereo(wave: np.ndarray, names: list[str] | None) -> np.ndarray:
    names = names if names and len(names) == wave.shape[0] else []
    if not names:  # unknown layout: first two channels are left and right by convention
        return wave[:2]
    matrix = np.array([[_LEFT.get(n, 0.0) for n in names], [_RIGHT.get(n, 0.0) for n in names]])
    matrix /= matrix.sum(axis=1, keepdims=True).max()  # never louder than full scale
    return (matrix.astype(np.float32) @ wave).astype(np.float32)


AUDIO_SUFFIXES = tuple(_FORMAT_BY_SUFFIX)


def encode_audio(wave: np.ndarray, sample_rate: int, suffix: str, *, subtype: str | None = None) -> bytes:
    """The bytes of a WAV or FLAC file (by `suffix`) holding `wave` (C, N) float32.

    subtype: "FLOAT" (32-bit float, WAV only, the default for WAV), "PCM_24" (default for FLAC)
    or "PCM_16". Integer subtypes clip to [-1, 1]. Raises ValueError for bad arguments.
    """
    fmt = _FORMAT_BY_SUFFIX.get(suffix.lower())
    if fmt is None:
        raise ValueError(f"audio files must end in .wav or .flac, got {suffix or 'no suffix'}")
    subtype = subtype or ("FLOAT" if fmt == "WAV" else "PCM_24")
    if subtype not in _SUBTYPES:
        raise ValueError(f"subtype must be one of {_SUBTYPES}, got {subtype!r}")
    if fmt == "FLAC" and subtype == "FLOAT":
        raise ValueError("FLAC stores integer samples: use subtype PCM_24 or PCM_16")
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"wave must be (channels, samples), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("wave contains NaN or infinite samples")
    if int(sample_rate) <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if subtype != "FLOAT":
        x = np.clip(x, -1.0, 1.0)
    buffer = io.BytesIO()
    # encoded in memory and written with Python's own file calls, so a full disk or a read-only
    # folder raise OSError with their errno (libsndfile would only say "System error")
    try:
        sf.write(buffer, x.T, int(sample_rate), subtype=subtype, format=fmt)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise MediaWriteError(f"cannot encode {fmt} audio: {e}") from None
    return buffer.getvalue()


def write_audio(
    path: str | os.PathLike,
    wave: np.ndarray,
    sample_rate: int,
    *,
    subtype: str | None = None,
) -> Path:
    """Write `wave` (C, N) float32 as WAV or FLAC (by suffix), atomically (see `encode_audio`).

    Returns the path written. A full disk raises ResourceError ("no space left on <folder>").
    """
    target = Path(path).expanduser()
    data = encode_audio(wave, sample_rate, target.suffix, subtype=subtype)
    with atomic_output(target) as temp:
        write_bytes(temp, data, target)
    return target
