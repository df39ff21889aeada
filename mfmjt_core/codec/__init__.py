"""Audio codecs: waveform <-> latent sequence (MMAudio's mel + VAE + BigVGAN, and a mel codec).

Importing this package loads only the lightweight interface; the codec modules import torch
stacks on their own: `from mfmjt_core.codec.mmaudio_codec import MMAudioCodec`.
"""

from mfmjt_core.codec.audio_codec import AudioCodec

__all__ = ["AudioCodec"]
