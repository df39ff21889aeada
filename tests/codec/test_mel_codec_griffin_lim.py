"""The mel codec's own Griffin-Lim loop: same result as torchaudio's, silent on silence, and
a take decodes the same beside others as alone.

Its speed is checked in test_codec_mel_codec.py.
"""

from __future__ import annotations

import math

import torch
import torchaudio.functional as AF

from mfmjt_core.codec.codec_measure import impact_noise_signal
from mfmjt_core.codec.mel_codec import MelCodec, MelCodecConfig

EMBEDDED = MelCodecConfig(n_mels=32, stack=2)  # the embedded model's codec


def test_griffin_lim_matches_torchaudio():
    codec = MelCodec(EMBEDDED)
    wave = impact_noise_signal(1.0, 16000, torch.Generator().manual_seed(5))[None]
    mel = codec.latent_to_log_mel(codec.encode(wave)).exp()
    magnitude = codec.mel_to_magnitude(mel)
    length = (magnitude.shape[-1] - 1) * EMBEDDED.hop  # centred frames: one per hop, plus one
    ours = codec.griffin_lim(magnitude, length)
    theirs = AF.griffinlim(magnitude, codec.window, 1024, 256, 1024, power=1.0,
                           n_iter=EMBEDDED.griffin_lim_iters, momentum=EMBEDDED.griffin_lim_momentum,
                           length=length, rand_init=False)
    # Only the normalisation of the phasors differs (sgn vs x / (|x| + 1e-16)).
    torch.testing.assert_close(ours, theirs, atol=1e-3, rtol=0.0)
    assert theirs.abs().max() > 0.1


def test_floor_latents_decode_to_silence():
    codec = MelCodec(EMBEDDED)
    floor = (math.log(EMBEDDED.log_floor) - EMBEDDED.norm_mean) / EMBEDDED.norm_std
    # Latents scattered just above the floor, as a generator's output in silence: far below
    # the onset detector's -55 dB floor (full-scale sine: 0 dB).
    latent = floor + 0.1 * torch.randn(1, 250, codec.latent_dim, generator=torch.Generator().manual_seed(0))
    wave = codec.decode(latent)
    assert wave.pow(2).mean().sqrt() < 1e-4  # under -80 dBFS


def test_a_take_decodes_the_same_in_a_batch_as_alone():
    """Three of the world's clips through the embedded codec, decoded together and one by one:
    bit for bit the same. On AVX-512 CPUs a batched istft rounds differently from one row's and
    the momentum grew that into another waveform (0.03 apart here, 0.46 in a batched evaluation)."""
    from mfmjt_core.synth import make_clip, split_seeds

    codec = MelCodec(EMBEDDED)
    audio = torch.stack([torch.from_numpy(make_clip(s).audio[:16000 * 2]) for s in split_seeds("test", 3)])
    latent = codec.encode(audio)
    together = codec.decode(latent)
    alone = torch.cat([codec.decode(latent[i:i + 1]) for i in range(3)])
    assert together.abs().max() > 0.01
    torch.testing.assert_close(together, alone, atol=0.0, rtol=0.0)
