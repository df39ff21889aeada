"""The mel codec's decoding ceiling: the loudest log-mel per band of the audio a model learned.

Measured once on the training data and stored in the codec's config (`log_mel_ceiling`), it
caps what a sample may ask the decoder for: nothing louder, band by band, than the data ever
was. `mfmjt_core.model.file.set_mel_ceiling` writes it into one of our model files
(`scripts/mel_ceiling.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from mfmjt_core.codec.mel_codec import MelCodec, MelCodecConfig

_ROUND = 1000  # stored to 1e-3 nats, rounded up: no frame of the data itself is capped
# The codec's log-mel is of magnitudes: one nat is 20 / ln 10 = 8.69 dB.
DB_PER_NAT = 20.0 / math.log(10.0)


@torch.no_grad()
def measure_log_mel_ceiling(codec: MelCodec, waves: Iterable[np.ndarray]) -> tuple[float, ...]:
    """Per-band maximum natural-log mel over `waves` (mono, at the codec's rate)."""
    ceiling = None
    for wave in waves:
        x = torch.as_tensor(np.asarray(wave, dtype=np.float32))[None]
        loudest = codec.latent_to_log_mel(codec.encode(x))[0].amax(dim=-1)
        ceiling = loudest if ceiling is None else torch.maximum(ceiling, loudest)
    if ceiling is None:
        raise ValueError("no audio to measure a ceiling on")
    return tuple(math.ceil(v * _ROUND) / _ROUND for v in ceiling.tolist())


def with_headroom(ceiling: tuple[float, ...], headroom_db: float) -> tuple[float, ...]:
    """`ceiling` raised by `headroom_db` dB in every band (stored to 1e-3 nats, rounded up)."""
    if not math.isfinite(headroom_db) or headroom_db < 0:
        raise ValueError(f"headroom must be a finite number of dB >= 0, got {headroom_db}")
    return tuple(math.ceil((v + headroom_db / DB_PER_NAT) * _ROUND - 1e-6) / _ROUND for v in ceiling)


def world_log_mel_ceiling(config: MelCodecConfig, clips: int = 400, *, split: str = "train") -> tuple[float, ...]:
    """The ceiling of the procedural world's audio (the embedded model's training data)."""
    from mfmjt_core.synth import iter_clips

    codec = MelCodec(config)
    return measure_log_mel_ceiling(codec, (clip.audio for clip in iter_clips(split, clips, with_frames=False)))
