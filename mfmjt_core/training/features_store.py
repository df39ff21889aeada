"""The on-disk layout of extracted features: shards of safetensors plus a JSON index.

A folder holds `shard_00000.safetensors`, ... (each written atomically, so a shard that exists
is complete), `constants.safetensors` (the encoders' features of the empty caption; their
shapes in its metadata), `plan.json` (what was asked, to refuse mixing two extractions in one
folder), `index.json` and `report.json` (written once every shard exists), and for trainable
small encoders `encoders.safetensors` (our model-file format, so a trained network can be
exported with the encoders its features came from).

A shard of n rows holds `latent_mean`, `latent_std` (n, N, C) float32; `video_index` (n,) int32
into `clip_f` (V, T8, Dc) and `sync_f` (V, S, Ds), -1 for audio-only rows; `text_index` (n,)
int32 into `text_f` (U, 77, Dt) and `text_tokens` (U, 77) (unique captions of the shard, so
class-label captions are stored once), -1 for rows without a caption. Row metadata (id, path,
caption, start) and the skipped inputs with their reasons are JSON in the safetensors header.
Files are read memory-mapped (safetensors `safe_open`), one row at a time.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from mfmjt_core.errors import MfmjtError

FORMAT = "mfmjt-features/1"
INDEX = "index.json"
REPORT = "report.json"
PLAN = "plan.json"
CONSTANTS = "constants.safetensors"
ENCODERS = "encoders.safetensors"
MAX_OPEN_SHARDS = 64


class FeatureStoreError(MfmjtError):
    """A feature folder is missing, incomplete or from another extraction."""

    exit_code = 2
    code = "bad_request"


def shard_name(k: int) -> str:
    return f"shard_{k:05d}.safetensors"


def write_atomic_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, object]) -> None:
    """Atomic safetensors write; metadata values are stored as JSON strings."""
    from safetensors.torch import save_file

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp,
                  metadata={"format": FORMAT, **{k: json.dumps(v) for k, v in metadata.items()}})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: Path) -> dict[str, object]:
    """The JSON metadata of a shard or constants file (tensors are not read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT:
        raise FeatureStoreError(f"{path} is not a feature file of this version ({meta.get('format')!r})")
    return {k: json.loads(v) for k, v in meta.items() if k != "format"}


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def build_index(folder: Path, plan: dict) -> tuple[dict, dict]:
    """(index, report) of a folder whose shards are all written."""
    constants = read_metadata(folder / CONSTANTS)
    shards, skipped, rows, video_rows = [], [], 0, 0
    for k in range(plan["shards"]):
        meta = read_metadata(folder / shard_name(k))
        n = len(meta["rows"])
        v = sum(1 for r in meta["rows"] if r["video"])
        shards.append({"file": shard_name(k), "rows": n, "video_rows": v})
        skipped.extend(meta["skipped"])
        rows += n
        video_rows += v
    index = {
        "format": FORMAT, "source": plan["source"], "settings": plan["settings"],
        **dict(sorted(constants.items())),
        "rows": rows, "video_rows": video_rows, "audio_rows": rows - video_rows,
        "skipped": len(skipped), "shards": shards,
    }
    report = {"inputs": plan["rows"], "extracted": rows, "skipped": skipped}
    return index, report


class FeatureSet:
    """Random access to the rows of an extracted feature folder (memory-mapped, fork-safe)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        index_path = self.folder / INDEX
        if not index_path.is_file():
            raise FeatureStoreError(
                f"{self.folder} has no {INDEX}: not a feature folder, or its extraction is unfinished "
                "(run the same `mfmjt extract` again to finish it)")
        self.index = json.loads(index_path.read_text())
        if self.index.get("format") != FORMAT:
            raise FeatureStoreError(f"{index_path}: unknown format {self.index.get('format')!r}")
        counts = [s["rows"] for s in self.index["shards"]]
        self.offsets = [0]
        for c in counts:
            self.offsets.append(self.offsets[-1] + c)
        if self.offsets[-1] == 0:
            raise FeatureStoreError(f"{self.folder} holds no rows (see {REPORT} for skipped inputs)")
        self._handles: dict[int, object] = {}
        self._small: dict[int, dict[str, torch.Tensor]] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return self.offsets[-1]

    @property
    def latent_shape(self) -> tuple[int, int]:
        return tuple(self.index["latent_shape"])

    def shape(self, name: str) -> tuple[int, int]:
        """(length, dim) of "clip", "sync" or "text" features."""
        return tuple(self.index[f"{name}_shape"])

    def empty_text(self) -> torch.Tensor:
        """The encoders' features of the empty caption, (77, Dt) float32."""
        return read_tensors(self.folder / CONSTANTS)["empty_text_f"].float()

    def _shard(self, k: int):
        if os.getpid() != self._pid:  # a data-loader worker: open its own handles
            self._handles, self._small, self._pid = {}, {}, os.getpid()
        if k not in self._handles:
            from safetensors import safe_open

            if len(self._handles) >= MAX_OPEN_SHARDS:  # keep file handles bounded on huge sets
                oldest = next(iter(self._handles))
                del self._handles[oldest], self._small[oldest]
            handle = safe_open(str(self.folder / self.index["shards"][k]["file"]), framework="pt")
            self._handles[k] = handle
            self._small[k] = {n: handle.get_tensor(n) for n in ("video_index", "text_index")}
        return self._handles[k], self._small[k]

    def read(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        """Rows stacked: latent_mean/std, clip_f, sync_f, text_f (float32; zeros where absent),
        has_video, has_text (bool)."""
        out: dict[str, list[torch.Tensor]] = {k: [] for k in
                                               ("latent_mean", "latent_std", "clip_f", "sync_f", "text_f")}
        has_video, has_text = [], []
        for row in rows:
            if not 0 <= row < len(self):
                raise IndexError(f"row {row} outside 0..{len(self) - 1}")
            k = bisect.bisect_right(self.offsets, row) - 1
            i = row - self.offsets[k]
            handle, small = self._shard(k)
            out["latent_mean"].append(handle.get_slice("latent_mean")[i])
            out["latent_std"].append(handle.get_slice("latent_std")[i])
            v, u = int(small["video_index"][i]), int(small["text_index"][i])
            has_video.append(v >= 0)
            has_text.append(u >= 0)
            for name, key, j in (("clip", "clip_f", v), ("sync", "sync_f", v), ("text", "text_f", u)):
                out[key].append(handle.get_slice(key)[j] if j >= 0 else torch.zeros(self.shape(name)))
        batch = {k: torch.stack([t.float() for t in v]) for k, v in out.items()}
        batch["has_video"] = torch.tensor(has_video)
        batch["has_text"] = torch.tensor(has_text)
        return batch

    def rows_meta(self) -> list[dict]:
        """Metadata of every row in order (id, path, caption, start, video)."""
        meta: list[dict] = []
        for shard in self.index["shards"]:
            meta.extend(read_metadata(self.folder / shard["file"])["rows"])
        return meta
