"""Media I/O: probing files, sampling video frames by timestamp, reading, resampling and
writing audio, writing and muxing MP4 files. PyAV for containers and codecs, soundfile for
WAV/FLAC, torchaudio for resampling. Every failure on bad input is a typed `MediaError`.
"""

from mfmjt_core.errors import MediaError
from mfmjt_core.media.audio import mix_channels, read_audio, write_audio
from mfmjt_core.media.media_errors import (
    EmptyRangeError,
    MediaNotFoundError,
    MediaUnreadableError,
    MediaWriteError,
    NoAudioStreamError,
    NoVideoStreamError,
    RangeOutsideMediaError,
)
from mfmjt_core.media.mux import mux_audio
from mfmjt_core.media.probe import MediaInfo, probe
from mfmjt_core.media.resample import fit_length, resample
from mfmjt_core.media.video import (
    CLIP_FPS,
    CLIP_SIZE,
    SYNC_FPS,
    SYNC_SIZE,
    FrameBatch,
    FrameSpec,
    clip_frames,
    decode_frame_sets,
    decode_frames,
    mmaudio_specs,
    sync_frames,
    target_times,
)
from mfmjt_core.media.writer import write_video

__all__ = [
    "CLIP_FPS",
    "CLIP_SIZE",
    "SYNC_FPS",
    "SYNC_SIZE",
    "EmptyRangeError",
    "FrameBatch",
    "FrameSpec",
    "MediaError",
    "MediaInfo",
    "MediaNotFoundError",
    "MediaUnreadableError",
    "MediaWriteError",
    "NoAudioStreamError",
    "NoVideoStreamError",
    "RangeOutsideMediaError",
    "clip_frames",
    "decode_frame_sets",
    "decode_frames",
    "fit_length",
    "mix_channels",
    "mmaudio_specs",
    "mux_audio",
    "probe",
    "read_audio",
    "resample",
    "sync_frames",
    "target_times",
    "write_audio",
    "write_video",
]
