"""A fixed, training-free audio embedding for the distribution-level (Fréchet) distance.

This is NOT VGGish or PANNs (no pretrained audio network can be downloaded here); it is a
documented set of mel statistics, deterministic and with no parameters to learn. Each clip is
cut into 1 s windows every 0.5 s; each window becomes 72 numbers from its mel spectrogram
(64 bands, 30 Hz - 8 kHz, 5 ms hop, dB floored at -80 dB):
- the mean dB of each pair of adjacent bands (32): the window's average spectrum;
- the standard deviation over time of each pair (32): how much each region fluctuates
  (steady hum vs. hits and silences);
- the mean positive frame-to-frame rise of each group of 8 bands (8): how onset-rich the window
  is, and where in frequency its attacks are.
A blurred "conditional mean" sample keeps roughly the right average spectrum but loses the
fluctuation and attack statistics, which is what this embedding is meant to expose. Absolute
values depend on this exact recipe, so compare distances only within one table.
"""

from __future__ import annotations

import numpy as np

from mfmjt_core.evaluation.spectra import MelSpec, log_mel_db

MEL = MelSpec()
FLOOR_DB = -80.0
WINDOW_S = 1.0
HOP_S = 0.5
DIM = 72


def embed_db(db: np.ndarray, frame_rate: float = MEL.frame_rate) -> np.ndarray:
    """Embeddings (windows, 72) of a mel dB spectrogram (frames, 64) of `MEL`, any floor at or
    below FLOOR_DB (the embedding's own floor is applied here)."""
    db = np.maximum(db, FLOOR_DB)
    size, hop = int(round(WINDOW_S * frame_rate)), int(round(HOP_S * frame_rate))
    if db.shape[0] < size:
        db = np.pad(db, ((0, size - db.shape[0]), (0, 0)), constant_values=FLOOR_DB)
    starts = range(0, db.shape[0] - size + 1, hop)
    rows = []
    for s in starts:
        w = db[s:s + size]
        pairs = w.reshape(w.shape[0], -1, 2).mean(axis=2)
        rise = np.maximum(np.diff(w, axis=0), 0.0).reshape(w.shape[0] - 1, 8, -1).mean(axis=(0, 2))
        rows.append(np.concatenate([pairs.mean(axis=0), pairs.std(axis=0), rise]))
    return np.asarray(rows, dtype=np.float64)


def embed_audio(audio: np.ndarray) -> np.ndarray:
    """Embeddings (windows, 72) of a 16 kHz mono waveform."""
    return embed_db(log_mel_db(audio, MEL, floor_db=FLOOR_DB))
