"""The project's own checkpoint format: safetensors with a JSON config in the metadata.

Nothing is unpickled: a model file is tensors plus one JSON document, so loading a file from
anywhere runs no code.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

import torch

from mfmjt_core.errors import MissingWeightsError, WeightsError

FORMAT = "mfmjt-model/1"


def weights_digest(*parts: tuple[str, torch.nn.Module]) -> str:
    """A short digest of modules' weights ((key prefix, module) pairs): the identity of trained
    weights, whatever file or name they came under."""
    import hashlib

    h = hashlib.sha256()
    for prefix, module in parts:
        for key, value in sorted(module.state_dict().items()):
            h.update((prefix + key).encode())
            h.update(value.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()[:16]


def save_model(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config: dict) -> Path:
    """Write atomically (temporary file in the same folder, then rename). The file keeps the
    permissions of the one it replaces, or gets a new file's (the temporary file's are 0600:
    a model shared with a daemon run by another user would become unreadable). An OSError names
    `path`, not the temporary file."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write a model file there: {exc.strerror}", str(path)) from None
    os.close(fd)
    try:
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp,
                      metadata={"format": FORMAT, "config": json.dumps(config)})
        except SafetensorError as exc:  # the writer's I/O errors (a full disk) are not OSError
            code = re.search(r"os error (\d+)", str(exc))
            if code is None:
                raise
            raise OSError(int(code[1]), os.strerror(int(code[1])), str(path)) from None
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _mode_for(path: Path) -> int:
    """The permission bits a rewrite of `path` keeps, or those of a file newly created there."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would change it for every thread
    for a moment); 0o022 where /proc does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def read_model(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, config) of a model file, or WeightsError saying what is wrong with it."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.exists():
        raise MissingWeightsError(f"no model file at {path}")
    if path.is_dir():
        raise WeightsError(f"{path} is a folder, not a model file (.safetensors)")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise WeightsError(f"{path} is not an MF-MJT model file (format {metadata.get('format')!r})")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a safetensors file handle, not a dict)
        return tensors, json.loads(metadata["config"])
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise WeightsError(f"cannot read model file {path}: {exc}") from exc


def rewrite_config(path: str | os.PathLike, change) -> dict:
    """Replace a model file's JSON config by `change(config)` (tensors kept, written atomically
    beside it, so an interrupted rewrite leaves the old file); returns the new config."""
    tensors, config = read_model(path)
    new = change(json.loads(json.dumps(config)))
    save_model(path, tensors, new)
    return new


def set_mel_ceiling(path: str | os.PathLike, ceiling: tuple[float, ...] | None, because: str) -> dict:
    """Write `ceiling` into the mel codec config of model file `path` (None removes it); the
    reason goes into its training record. Returns the new config."""
    from mfmjt_core.model.parts import codec_from_dict

    def change(config: dict) -> dict:
        codec = config.get("codec", {})
        if codec.get("kind") != "mel":
            raise ValueError(f"{path}: only our mel codec has a log-mel ceiling (this model's: {codec.get('kind')})")
        codec.setdefault("config", {})["log_mel_ceiling"] = None if ceiling is None else list(ceiling)
        codec_from_dict(codec)  # the file must stay loadable (one value per band)
        config.setdefault("training", {})["log_mel_ceiling_from"] = {
            "because": because, "at": time.strftime("%Y-%m-%d %H:%M:%S")}
        return config

    return rewrite_config(path, change)
