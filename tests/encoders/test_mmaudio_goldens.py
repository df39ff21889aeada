"""MMAudio's encoders against the reference goldens, from raw frames in a video file.

The goldens (../shared/reference/golden/synchformer_tiny.pt and clip_preprocess.pt) start from
uint8 frames as PyAV decodes them. Here those frames are written losslessly (PNG in QuickTime)
at the rate the encoder reads, and go through what generation and `mfmjt extract` run:
`decode_for_encoders` (both decode with `pipeline.frames.frame_specs`; `media.sync_frames` and
`media.clip_frames` give the same frames), then the encoder set's `encode_sync` / `encode_clip`.
The resized frames must equal MMAudio's bit for bit; the features and the CLIP model input
agree to the tolerances below (measured errors in docs/architecture.md, "Goldens").
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from open_clip.model import CLIP

from mfmjt_core import media
from mfmjt_core.encoders import ClipEncoder, MMAudioEncoders, SynchformerConfig, SynchformerVisual
from mfmjt_core.pipeline.frames import decode_for_encoders

# A tiny open_clip CLIP whose image tower takes 384 px (27 x 27 patches, as ViT-H-14-378 sees a
# 384 px frame); the golden fixes only the model's input, so the weights do not matter.
CLIP_384 = dict(
    embed_dim=16, quick_gelu=True,
    vision_cfg=dict(image_size=384, layers=1, width=32, head_width=16, patch_size=14),
    text_cfg=dict(context_length=77, vocab_size=49408, width=24, heads=2, layers=1),
)
FEATURES_ATOL = 4e-6  # measured 1.4e-6 (Synchformer features, scripts/golden_errors.py)
# The normalised CLIP input is bit-identical to MMAudio's (same uint8 frames, same float ops).


def write_lossless(path, frames: np.ndarray, fps: int):
    """uint8 (T, H, W, 3) -> a PNG-coded QuickTime file whose decoded RGB is `frames` exactly."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("png", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "rgb24"
        stream.codec_context.time_base = Fraction(1, fps)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def chw(frames: torch.Tensor) -> np.ndarray:
    """(..., C, H, W) golden frames -> (..., H, W, C) numpy, the layout the media layer gives."""
    return frames.movedim(-3, -1).numpy()


@pytest.fixture(scope="module")
def sync_golden(load_golden):
    return load_golden("synchformer_tiny.pt")


@pytest.fixture(scope="module")
def clip_golden(load_golden):
    return load_golden("clip_preprocess.pt")


@pytest.fixture(scope="module")
def encoders(sync_golden):
    """MMAudio's encoder set with the golden's tiny Synchformer and a tiny 384 px CLIP."""
    vit = sync_golden["config"]["VIT"]
    cfg = SynchformerConfig(dim=vit["EMBED_DIM"], heads=vit["NUM_HEADS"], depth=vit["DEPTH"])
    sync = SynchformerVisual.create(cfg)
    sync.load_published(sync_golden["state_dict"], what="synchformer_tiny golden")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        clip_sd = CLIP(**CLIP_384).state_dict()
    clip = ClipEncoder.from_state_dict(clip_sd, CLIP_384, image_size=384)
    return MMAudioEncoders(clip, sync)


def test_synchformer_features_from_raw_frames(tmp_path, sync_golden, encoders):
    raw = sync_golden["inputs"]["raw_frames_uint8"].numpy()  # (2, 27, 36, 60, 3)
    assert sync_golden["config"]["step_size"] == 8 and sync_golden["config"]["segment_size"] == 16
    seconds = raw.shape[1] / 25
    frames25 = []
    for b, clip in enumerate(raw):
        path = write_lossless(tmp_path / f"clip{b}.mov", clip, 25)
        _, f25 = decode_for_encoders(encoders, path, 0.0, seconds)
        np.testing.assert_array_equal(media.sync_frames(path, 0.0, seconds).frames, f25)
        frames25.append(f25)
    frames25 = np.stack(frames25)
    assert frames25.shape == (2, 27, 224, 224, 3)
    # MMAudio's resize (short side 36 -> 224, long side 373) and crop (left offset 74), exactly
    sample = sync_golden["sync_frames_uint8_sample"]
    np.testing.assert_array_equal(frames25[0, 0], chw(sample[0]))
    np.testing.assert_array_equal(frames25[1, 26], chw(sample[1]))
    # every frame in float32 as torchvision makes it (ToDtype, Normalize), summed in float64
    normalised = torch.from_numpy(frames25).float().mul_(1 / 255).sub_(0.5).div_(0.5).double()
    torch.testing.assert_close(normalised.sum(dim=(2, 3, 4)), sync_golden["sync_frames_sum"],
                               rtol=0, atol=1e-6)  # float64 sums of equal frames

    features = encoders.encode_sync(frames25)
    expected = sync_golden["output_features"]
    assert features.shape == expected.shape == (2, 16, 64)  # 2 segments (starts 0, 8) x 8 tokens
    torch.testing.assert_close(features, expected, rtol=0, atol=FEATURES_ATOL)
    # bounded memory (one segment at a time) gives the same features
    encoders.sync_segments_per_batch = 1
    try:
        torch.testing.assert_close(encoders.encode_sync(frames25), expected, rtol=0, atol=FEATURES_ATOL)
    finally:
        encoders.sync_segments_per_batch = 0


def clip_model_input(encoders: MMAudioEncoders, frames8: np.ndarray) -> torch.Tensor:
    """What the CLIP image tower receives when the encoder set encodes `frames8`."""
    seen = []
    hook = encoders.clip.model.visual.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        features = encoders.encode_clip(frames8)
    finally:
        hook.remove()
    assert features.shape == (*frames8.shape[:2], 16)
    return torch.cat(seen)


def test_clip_input_from_raw_frames_upscaled(tmp_path, clip_golden, encoders):
    raw = clip_golden["inputs"]["raw_frames_upscale"].numpy()  # (1, 2, 30, 40, 3)
    path = write_lossless(tmp_path / "small.mov", raw[0], 8)
    f8, _ = decode_for_encoders(encoders, path, 0.0, raw.shape[1] / 8)
    np.testing.assert_array_equal(media.clip_frames(path, 0.0, raw.shape[1] / 8).frames, f8)
    np.testing.assert_array_equal(f8, chw(clip_golden["clip_frames_uint8_upscale"][0]))
    seen = clip_model_input(encoders, f8[None])
    assert seen.shape == (2, 3, 384, 384)  # (b t) c h w
    torch.testing.assert_close(seen[:, :, :96], clip_golden["clip_model_input_rows"], rtol=0, atol=0)
    torch.testing.assert_close(seen.double().sum(dim=(1, 2, 3)), clip_golden["clip_model_input_sum"],
                               rtol=0, atol=1e-6)  # float64 sums of equal frames, summed in another order


def test_clip_and_sync_frames_from_a_large_frame_antialiased(tmp_path, clip_golden, encoders):
    raw = clip_golden["inputs"]["raw_frames_downscale"].numpy()  # (1, 1, 400, 420, 3)
    path = write_lossless(tmp_path / "large.mov", np.repeat(raw[0], 2, axis=0), 8)
    f8, f25 = decode_for_encoders(encoders, path, 0.0, 0.25)
    np.testing.assert_array_equal(f8[0], chw(clip_golden["clip_frames_uint8_downscale"][0, 0]))
    # short side 400 -> 224 (235 wide), centre crop at left offset round(11 / 2) = 6
    np.testing.assert_array_equal(f25[0], chw(clip_golden["sync_frames_uint8_downscale"][0, 0]))
    mean = torch.tensor(clip_golden["config"]["mean"]).view(3, 1, 1)
    std = torch.tensor(clip_golden["config"]["std"]).view(3, 1, 1)
    # MMAudio's float input: ToDtype(scale=True) multiplies by 1/255, Normalize subtracts, divides
    expected = clip_golden["clip_frames_uint8_downscale"][0].float().mul_(1 / 255).sub_(mean).div_(std)
    torch.testing.assert_close(clip_model_input(encoders, f8[None, :1]), expected, rtol=0, atol=0)
