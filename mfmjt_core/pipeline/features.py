"""Cache of encoded video features, in memory and on disk.

Keyed by the video's content fingerprint, the range, the frame rates and the encoder's identity,
so a new prompt, seed or step count re-runs only the network and the decoder. Files are
safetensors (no pickle) written atomically; counters let tests check hits without timing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch

_SAMPLES, _CHUNK = 16, 1 << 16


def content_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the size and 16 evenly spaced 64 KiB chunks (whole file when small).

    Sampling keeps multi-GB camera files cheap to key; an edit that changes the size or any
    sampled chunk changes the key.
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        if size <= _SAMPLES * _CHUNK * 2:
            h.update(f.read())
        else:
            for i in range(_SAMPLES):
                f.seek((size - _CHUNK) * i // (_SAMPLES - 1))
                h.update(f.read(_CHUNK))
    return h.hexdigest()


class FeatureCache:
    def __init__(self, directory: str | os.PathLike | None = None, *, memory_items: int = 32) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.memory_items = memory_items
        self._memory: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()
        self.memory_hits = self.disk_hits = self.misses = 0

    def _file(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.safetensors"

    def get(self, key: str, compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.memory_hits += 1
                return self._memory[key]
        value = self._read(key)
        if value is not None:
            self.disk_hits += 1
        else:
            self.misses += 1
            value = {k: v.detach().cpu().contiguous() for k, v in compute().items()}
            self._write(key, value)
        with self._lock:
            self._memory[key] = value
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return value

    def _read(self, key: str) -> dict[str, torch.Tensor] | None:
        file = self._file(key)
        if file is None or not file.exists():
            return None
        from safetensors.torch import load_file

        try:
            return load_file(str(file))
        except Exception:  # a damaged cache entry is recomputed, never fatal
            file.unlink(missing_ok=True)
            return None

    def _write(self, key: str, value: dict[str, torch.Tensor]) -> None:
        file = self._file(key)
        if file is None:
            return
        from safetensors.torch import save_file

        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".feat.", dir=file.parent)
        os.close(fd)
        try:
            save_file(value, tmp)
            os.replace(tmp, file)
        except OSError:  # a full or read-only disk only costs the cache
            Path(tmp).unlink(missing_ok=True)


def feature_key(fingerprint: str, start: float, end: float, encoder_id: str) -> str:
    text = f"{fingerprint}|{start:.6f}|{end:.6f}|{encoder_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]
