"""Log-mel front-end of MMAudio (waveform -> log-mel spectrogram), as a configurable module.

MMAudio's conventions (`method.md` 3.8): clamp the wave to [-1, 1], reflect-pad (n_fft - hop) / 2
on both sides, STFT with `center=False` and a Hann window, magnitude sqrt(re^2 + im^2 + 1e-9),
Slaney-normalised Slaney-scale mel basis, clamp at 1e-5, log. With this padding a waveform of n
samples gives exactly n // hop frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

LogBase = Literal["log10", "ln"]


@dataclass(frozen=True)
class MelConfig:
    """STFT and mel-scale settings of a log-mel front-end."""

    sample_rate: int
    n_fft: int
    hop: int
    win: int
    n_mels: int
    fmin: float
    fmax: float
    log_base: LogBase
    clamp_min: float = 1e-5
    magnitude_eps: float = 1e-9

    def __post_init__(self) -> None:
        if self.log_base not in ("log10", "ln"):
            raise ValueError(f"log_base must be 'log10' or 'ln', not {self.log_base!r}")
        if (self.n_fft - self.hop) % 2:
            raise ValueError("n_fft - hop must be even (it is split over both ends as padding)")
        if self.win > self.n_fft:
            raise ValueError("win must not exceed n_fft")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError("need 0 <= fmin < fmax <= sample_rate / 2")

    @property
    def n_freqs(self) -> int:
        """Number of one-sided STFT bins."""
        return self.n_fft // 2 + 1

    @property
    def pad(self) -> int:
        """Reflect padding on each side of the waveform."""
        return (self.n_fft - self.hop) // 2


MEL_16K = MelConfig(16_000, 1024, 256, 1024, 80, 0.0, 8_000.0, "log10")
MEL_44K = MelConfig(44_100, 2048, 512, 2048, 128, 0.0, 22_050.0, "ln")


def _hz_to_slaney_mel(hz: torch.Tensor) -> torch.Tensor:
    # Slaney's Auditory Toolbox scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above.
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = hz / f_sp
    log = min_log_mel + torch.log(hz.clamp(min=min_log_hz) / min_log_hz) / logstep
    return torch.where(hz >= min_log_hz, log, linear)


def _slaney_mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = mel * f_sp
    log = min_log_hz * torch.exp(logstep * (mel - min_log_mel))
    return torch.where(mel >= min_log_mel, log, linear)


def slaney_mel_basis(config: MelConfig) -> torch.Tensor:
    """Slaney-scale, Slaney-normalised (area 1 per band) triangular mel filters, (n_mels, n_freqs).

    Computed in float64 and returned as float32; this is the basis librosa's `filters.mel` gives
    with its defaults, which MMAudio's front-end uses.
    """
    fft_freqs = torch.linspace(0, config.sample_rate / 2, config.n_freqs, dtype=torch.float64)
    mel_lo = _hz_to_slaney_mel(torch.tensor(config.fmin, dtype=torch.float64))
    mel_hi = _hz_to_slaney_mel(torch.tensor(config.fmax, dtype=torch.float64))
    edges = _slaney_mel_to_hz(
        torch.linspace(mel_lo, mel_hi, config.n_mels + 2, dtype=torch.float64)
    )
    widths = edges[1:] - edges[:-1]
    # Distance of every FFT bin from every band edge: (n_mels + 2, n_freqs).
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.to(torch.float32)


class MelFrontend(nn.Module):
    """waveform (B, n) in [-1, 1] -> log-mel (B, n_mels, n // hop), MMAudio's conventions."""

    def __init__(self, config: MelConfig, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.config = config
        # Not in any checkpoint: derived from the config, so not part of the state dict.
        self.register_buffer("mel_basis", slaney_mel_basis(config).to(device), persistent=False)
        self.register_buffer(
            "window", torch.hann_window(config.win, device=device), persistent=False
        )

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a waveform of `num_samples` samples."""
        return num_samples // self.config.hop

    def magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """Linear STFT magnitude (B, n_freqs, frames) with MMAudio's padding and epsilon."""
        if waveform.ndim != 2:
            raise ValueError(f"waveform must be (batch, samples), got {tuple(waveform.shape)}")
        cfg = self.config
        if waveform.shape[-1] <= cfg.pad:
            raise ValueError(
                f"waveform needs more than {cfg.pad} samples, got {waveform.shape[-1]}"
            )
        wave = waveform.to(self.mel_basis).clamp(-1.0, 1.0)
        wave = F.pad(wave.unsqueeze(1), (cfg.pad, cfg.pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            wave,
            cfg.n_fft,
            hop_length=cfg.hop,
            win_length=cfg.win,
            window=self.window,
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        spec = torch.view_as_real(spec)
        return torch.sqrt(spec.pow(2).sum(-1) + self.config.magnitude_eps)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log-mel spectrogram (B, n_mels, frames)."""
        mel = torch.matmul(self.mel_basis, self.magnitude(waveform))
        mel = mel.clamp(min=self.config.clamp_min)
        return torch.log10(mel) if self.config.log_base == "log10" else torch.log(mel)
