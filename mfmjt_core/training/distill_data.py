"""The data of a distillation: conditions only (the teacher makes the targets, no audio needed).

Sources are the user's own material: a folder of videos (every `window_s` window of each video
becomes a video-to-audio row; a sidecar caption, `clip.json` "caption" or `clip.txt`, as `mfmjt
synth` writes, adds a video+text row and a text-only row), single video files, and prompt lists
(`.txt`, one prompt a line, `#` comments): text-to-audio rows. Everything is encoded once by the
teacher's own encoders; video and text features are stored once each and rows point at them
(-1: the network's learned empty features), so a thousand rows of MMAudio's encoders stay small.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from mfmjt_core.errors import MfmjtError
from mfmjt_core.training.features_inputs import VIDEO_SUFFIXES, InputRow, list_folder

PROMPT_SUFFIXES = (".txt", ".prompts")
CONDITIONS_FILE = "conditions.safetensors"


class DistillDataError(MfmjtError):
    """The distillation's --data gave nothing usable."""

    exit_code = 2
    code = "bad_request"


@dataclass(frozen=True)
class Sources:
    videos: tuple[InputRow, ...]
    prompts: tuple[str, ...]


def list_sources(items: Sequence[str | os.PathLike]) -> Sources:
    """Folders (their videos, recursively; prompt files inside are read too), video files and
    prompt lists, in a deterministic order."""
    videos: list[InputRow] = []
    prompts: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            videos += [r for r in list_folder(path) if Path(r.path).suffix.lower() in VIDEO_SUFFIXES]
            for f in sorted(p for p in path.rglob("*") if p.suffix.lower() in PROMPT_SUFFIXES):
                if not (f.with_suffix(".mp4").exists() or any(f.with_suffix(s).exists() for s in VIDEO_SUFFIXES)):
                    prompts += read_prompts(f)  # a .txt beside a video is its caption, not a list
        elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            videos.append(InputRow(id=path.stem, path=str(path)))
        elif path.is_file() and path.suffix.lower() in PROMPT_SUFFIXES:
            prompts += read_prompts(path)
        elif path.is_file():  # not read as prompts: a WAV's bytes would become thousands of "texts"
            raise DistillDataError(f"--data {item}: neither a video ({', '.join(VIDEO_SUFFIXES)}) nor a "
                                   f"prompt list ({', '.join(PROMPT_SUFFIXES)}, one prompt a line)")
        else:
            raise DistillDataError(f"--data {item}: no such file or folder")
    if not videos and not prompts:
        raise DistillDataError(f"--data {', '.join(map(str, items))}: no videos and no prompts found")
    return Sources(tuple(videos), tuple(prompts))


def read_prompts(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass(frozen=True)
class ConditionSet:
    """Encoded conditions: unique video windows and texts, and rows (video index, text index)."""

    clip_f: torch.Tensor  # (V, Tc, Dc)
    sync_f: torch.Tensor  # (V, Ts, Ds)
    text_f: torch.Tensor  # (P, Tt, Dt)
    rows: torch.Tensor  # (N, 2) long; -1 = empty features for that modality

    def __len__(self) -> int:
        return self.rows.shape[0]

    def save(self, path: Path, digest: str) -> None:
        from mfmjt_core.model.file import save_model

        # the model-file container: tensors plus JSON, written atomically
        save_model(path, {"clip_f": self.clip_f, "sync_f": self.sync_f, "text_f": self.text_f,
                          "rows": self.rows}, {"kind": "distill-conditions", "digest": digest})

    @classmethod
    def load(cls, path: Path, digest: str) -> ConditionSet | None:
        from mfmjt_core.errors import WeightsError
        from mfmjt_core.model.file import read_model

        try:
            tensors, config = read_model(path)
        except WeightsError:
            return None
        if config.get("digest") != digest:
            return None
        return cls(tensors["clip_f"], tensors["sync_f"], tensors["text_f"], tensors["rows"])


def sources_digest(sources: Sources, window_s: float, encoder_id: str, captions: bool) -> str:
    """Identity of what the conditions were made from (a changed file or prompt re-encodes)."""
    from mfmjt_core.pipeline.features import content_fingerprint

    h = hashlib.sha256(json.dumps([window_s, encoder_id, captions, list(sources.prompts)]).encode())
    for row in sources.videos:
        h.update(f"{row.path}|{row.caption}|{content_fingerprint(row.path)}".encode())
    return h.hexdigest()


def video_windows(path: str, window_s: float) -> list[float]:
    """Starts of the whole `window_s` windows of a video (none if it is shorter)."""
    from mfmjt_core.media import probe

    duration = probe(path).duration_s or 0.0
    count = int(duration / window_s + 1e-6)
    return [k * window_s for k in range(count)]


@torch.no_grad()
def encode_conditions(model, sources: Sources, *, captions: bool = True, batch_size: int = 8,
                      log=None) -> ConditionSet:
    """Encode every video window and text with `model`'s encoders (an `AudioModel`)."""
    from mfmjt_core.errors import MediaError
    from mfmjt_core.pipeline.frames import decode_for_encoders

    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    enc, window = model.encoders.eval(), float(model.spec.window_s)
    texts: dict[str, int] = {}
    clips, syncs, rows = [], [], []
    skipped = 0
    pending: list[tuple[object, object]] = []

    def flush() -> None:
        if pending:
            clip_f, sync_f = enc.encode_video(torch.stack([torch.as_tensor(a) for a, _ in pending]),
                                              torch.stack([torch.as_tensor(b) for _, b in pending]))
            clips.append(clip_f.cpu())
            syncs.append(sync_f.cpu())
            pending.clear()

    count = 0
    for n, row in enumerate(sources.videos):
        try:
            starts = video_windows(row.path, window)
        except MediaError as exc:
            log(f"skipped {row.path}: {exc}")
            skipped += 1
            continue
        if not starts:
            log(f"skipped {row.path}: shorter than the model's {window:g} s window")
            skipped += 1
        for start in starts:
            pending.append(decode_for_encoders(enc, row.path, start, start + window))
            rows.append((count, -1))
            if captions and row.caption:
                index = texts.setdefault(row.caption, len(texts))
                rows += [(count, index), (-1, index)]
            count += 1
            if len(pending) >= batch_size:
                flush()
        if (n + 1) % 50 == 0:
            log(f"encoded {n + 1}/{len(sources.videos)} videos")
    flush()
    for prompt in sources.prompts:
        rows.append((-1, texts.setdefault(prompt, len(texts))))
    if not rows:
        raise DistillDataError(f"no usable video window or prompt ({skipped} videos skipped)")
    shapes = enc.feature_shapes(window)
    text_list = list(texts)
    text_f = torch.cat([enc.encode_text(text_list[i:i + batch_size]).cpu()
                        for i in range(0, len(text_list), batch_size)]) if text_list else \
        torch.zeros(0, *shapes.text)
    clip_f = torch.cat(clips) if clips else torch.zeros(0, *shapes.clip)
    sync_f = torch.cat(syncs) if syncs else torch.zeros(0, *shapes.sync)
    log(f"conditions: {len(rows)} rows from {count} video windows and {len(texts)} texts"
        + (f" ({skipped} videos skipped)" if skipped else ""))
    return ConditionSet(clip_f.float(), sync_f.float(), text_f.float(), torch.tensor(rows, dtype=torch.long))
