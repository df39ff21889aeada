"""Everything the evaluation compares against: test clips on disk, their ground truth, the
material classifier (fitted on train clips), and the reference rows of the table.

Reference rows ("ceilings"): the reference audio itself scored by the same detectors (what a
perfect generator would get: onset F1 below 1.0 is the detector's own error), and the reference
audio passed through the model's codec (encode, decode: what a perfect network would get with
this codec). The Fréchet distance of the reference row compares the test clips with as many
train-split clips: the distance between two independent sets of real clips of this size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from mfmjt_core.evaluation.embedding import embed_audio
from mfmjt_core.evaluation.material_classifier import MaterialClassifier, fit_on_world
from mfmjt_core.evaluation.metrics import fit_gaussian
from mfmjt_core.evaluation.scoring import ClipTruth

CLASSIFIER_VERSION = 2  # bump when the impact features change


@dataclasses.dataclass(frozen=True)
class TestClip:
    """A test clip written to disk, with its ground truth."""

    truth: ClipTruth
    video: Path
    duration_s: float
    fingerprint: str  # hash of the clip's metadata: cached audio of an older world is not reused


def prepare_clips(seeds: list[int], folder: Path) -> list[TestClip]:
    """Make the clips of `seeds` and write each as MP4 + WAV + JSON into `folder`; a clip already
    there with identical metadata (caption, timing, events, objects) is not rewritten."""
    from mfmjt_core.synth import make_clip
    from mfmjt_core.synth.export import clip_metadata, read_sidecar, write_clip

    out = []
    for seed in seeds:
        clip = make_clip(seed, with_frames=False)
        expected = json.loads(json.dumps(clip_metadata(clip)))
        video = folder / f"test_{seed}.mp4"
        try:
            fresh = video.exists() and read_sidecar(video) == expected
        except (OSError, ValueError):
            fresh = False
        if not fresh:
            write_clip(make_clip(seed), video)
        fingerprint = hashlib.sha256(json.dumps(expected, sort_keys=True).encode()).hexdigest()[:10]
        out.append(TestClip(ClipTruth.of(clip), video, float(clip.duration_s), fingerprint))
    return out


def load_or_fit_classifier(folder: Path, train_clips: int) -> MaterialClassifier:
    """The material classifier saved in `folder`, or a new one fitted on `train_clips` clips of the
    train split (and saved there)."""
    path = folder / "material_classifier.json"
    if path.exists():
        try:
            clf = MaterialClassifier.load(path)
            if clf.info.get("clips") == train_clips and clf.info.get("version") == CLASSIFIER_VERSION:
                return clf
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            pass
    clf = fit_on_world(train_clips, split="train")
    clf = dataclasses.replace(clf, info={**clf.info, "version": CLASSIFIER_VERSION})
    clf.save(path)
    return clf


def train_floor_gaussian(n_clips: int):
    """Gaussian of the embeddings of the first `n_clips` train-split clips' reference audio."""
    from mfmjt_core.synth import make_clip, split_seeds

    rows = [embed_audio(make_clip(s, with_frames=False).audio) for s in split_seeds("train", n_clips)]
    return fit_gaussian(np.concatenate(rows))


def codec_round_trip(model, audio: list[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
    """Reference audio encoded and decoded by the model's codec (mono, native rate)."""
    import torch

    from mfmjt_core.media.levels import within_full_scale

    codec = model.codec
    out: list[np.ndarray] = []
    with torch.no_grad():
        for k in range(0, len(audio), batch_size):
            chunk = audio[k:k + batch_size]
            n = max(a.size for a in chunk)
            batch = torch.from_numpy(np.stack([np.pad(a, (0, n - a.size)) for a in chunk]))
            waves = codec.decode(codec.encode(batch)).float().cpu().numpy()
            out += [np.ascontiguousarray(within_full_scale(w[:a.size])) for w, a in zip(waves, chunk)]
    return out
