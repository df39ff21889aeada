"""`extract`: input rows -> sharded feature files, resumable, over workers and torchrun ranks.

The rows are cut into shards of `shard_size` in input order; shard k belongs to rank
k % world (RANK / WORLD_SIZE from torchrun), and a shard whose file exists is finished (files
are written atomically), so a rerun after a crash or on more machines only does what is left.
Data-loader workers decode media; the main process encodes in batches on its device. A row
that cannot be used (missing, corrupt, too short, no audio) is recorded with its reason in its
shard and in `report.json`, never fatal. When every shard exists, whichever rank finishes last
writes `index.json` and `report.json`; no process group is needed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from mfmjt_core.training.features_encode import (
    FeatureExtractor,
    build_extractor,
    describe_error,
    describe_sources,
    digest,
)
from mfmjt_core.training.features_inputs import InputRow, list_inputs
from mfmjt_core.training.features_store import (
    CONSTANTS,
    ENCODERS,
    FORMAT,
    INDEX,
    PLAN,
    REPORT,
    FeatureStoreError,
    build_index,
    shard_name,
    write_atomic_text,
    write_tensors,
)

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass(frozen=True)
class ExtractConfig:
    source: str  # a folder of media, or a CSV / TSV / JSON list
    out: str
    encoders: str = "small"  # "small" (the embedded model's), "mmaudio[:BUNDLE]", or a model file
    codec: str = "auto"  # "auto" (the encoders'), "mmaudio-16k", "mmaudio-44k", or a model file
    duration: float = 8.0
    shard_size: int = 256
    workers: int = 0  # decoding processes
    batch_size: int = 16  # rows per encoder call
    device: str = "cpu"
    feature_dtype: str = "float16"  # of the clip / sync / text features (latents stay float32)
    media_root: str | None = None  # where list entries are resolved (default: the list's folder)
    split: str | None = None  # keep only list rows of this split (when the list has a split column)


@dataclass(frozen=True)
class ExtractSummary:
    rank: int
    world: int
    shards: int  # in the whole plan
    written: int  # by this process in this run
    rows_done: int  # rows extracted by this process in this run
    rows_skipped: int  # inputs this process could not use in this run
    index: Path | None  # set when every shard exists (written by this process or found)


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def extract(config: ExtractConfig, *, rank: int | None = None, world: int | None = None,
            progress: Callable[[str], None] | None = _print) -> ExtractSummary:
    """Extract this process's unfinished shards; finish the index when all shards exist."""
    rank = int(os.environ.get("RANK", "0")) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", "1")) if world is None else world
    if config.feature_dtype not in _DTYPES:
        raise ValueError(f"feature dtype must be one of {sorted(_DTYPES)}")
    if config.shard_size < 1 or config.duration <= 0:
        raise ValueError("shard size and duration must be positive")
    out = Path(config.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    rows = list_inputs(config.source, media_root=config.media_root, split=config.split)
    shards = [rows[i: i + config.shard_size] for i in range(0, len(rows), config.shard_size)]
    plan = _check_plan(out, config, rows, len(shards))
    mine = [k for k in range(len(shards)) if k % world == rank and not (out / shard_name(k)).exists()]
    say = progress or (lambda line: None)
    if rank == 0:
        _say_missing(rows, say)
    done = skipped = 0
    if mine:
        device = torch.device(config.device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        extractor = build_extractor(config.encoders, config.codec, duration=config.duration, device=device,
                                    feature_dtype=_DTYPES[config.feature_dtype])
        _write_constants(out, extractor)
        total = sum(len(shards[k]) for k in mine)
        say(f"extract rank {rank}/{world}: {len(mine)} of {len(shards)} shards to do ({total} rows)")
        clock = _Clock(total, len(mine), rank, world, say)
        for k, kept, lost in _run_shards(extractor, {k: shards[k] for k in mine}, config, clock):
            write_tensors(out / shard_name(k), kept["tensors"], {"rows": kept["rows"], "skipped": lost})
            done += len(kept["rows"])
            skipped += len(lost)
            clock.shard_done()
    index = _finish(out, plan)
    if index is not None:
        say(f"extract: {index}  ({_summary_line(out)})")
    else:
        say(f"extract rank {rank}/{world}: my shards are done; the last rank to finish writes the index")
    return ExtractSummary(rank, world, len(shards), len(mine), done, skipped, index)


def _say_missing(rows: list[InputRow], say: Callable[[str], None]) -> None:
    """Tell at once how many listed files are absent (they are skipped and reported, not fatal):
    a wrong --media-root shows before hours of extraction, not in report.json after them."""
    missing = [r for r in rows if not os.path.isfile(r.path)]
    if missing:
        say(f"extract: {len(missing)} of {len(rows)} inputs name files that do not exist (first: "
            f"{missing[0].path}); they are skipped and listed in report.json")


def _check_plan(out: Path, config: ExtractConfig, rows: list[InputRow], shards: int) -> dict:
    settings = {"duration": config.duration, "shard_size": config.shard_size,
                "feature_dtype": config.feature_dtype, **describe_sources(config.encoders, config.codec)}
    plan = {"format": FORMAT, "source": str(config.source), "settings": settings, "rows": len(rows),
            "shards": shards, "digest": digest([settings, [asdict(r) for r in rows]])}
    path = out / PLAN
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("digest") != plan["digest"]:
            raise FeatureStoreError(
                f"{out} holds features of another extraction (different inputs, encoders or settings: "
                f"see {path}); extract into a new folder")
    else:
        write_atomic_text(path, json.dumps(plan, indent=1))
    return plan


def _write_constants(out: Path, extractor: FeatureExtractor) -> None:
    if not (out / CONSTANTS).exists():
        write_tensors(out / CONSTANTS, {"empty_text_f": extractor.empty_text()}, extractor.shapes())
    weights = extractor.encoder_file()
    if weights is not None and not (out / ENCODERS).exists():
        from mfmjt_core.model.file import save_model

        save_model(out / ENCODERS, *weights)


def _finish(out: Path, plan: dict) -> Path | None:
    if not all((out / shard_name(k)).exists() for k in range(plan["shards"])):
        return None
    if plan["shards"] and not (out / CONSTANTS).exists():
        raise FeatureStoreError(f"{out} has shards but no {CONSTANTS}; extract into a new folder")
    if not plan["shards"]:
        raise FeatureStoreError(f"{plan['source']} lists no inputs")
    index, report = build_index(out, plan)
    write_atomic_text(out / REPORT, json.dumps(report, indent=1))
    write_atomic_text(out / INDEX, json.dumps(index, indent=1))
    return out / INDEX


def _summary_line(out: Path) -> str:
    index = json.loads((out / INDEX).read_text())
    return (f"{index['rows']} rows ({index['video_rows']} video, {index['audio_rows']} audio only), "
            f"{index['skipped']} skipped inputs listed in {out / REPORT}")


class _Clock:
    """Progress lines with rate and ETA, at most one a second (plus one per shard)."""

    def __init__(self, rows: int, shards: int, rank: int, world: int, say: Callable[[str], None]) -> None:
        self.rows, self.shards, self.rank, self.world, self.say = rows, shards, rank, world, say
        self.t0 = self.last = time.perf_counter()
        self.seen = self.shards_done = 0

    def tick(self, rows: int = 1, force: bool = False) -> None:
        self.seen += rows
        now = time.perf_counter()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        rate = self.seen / max(now - self.t0, 1e-9)
        eta = (self.rows - self.seen) / rate if rate > 0 else 0.0
        m, s = divmod(int(eta), 60)
        self.say(f"extract rank {self.rank}/{self.world}: shard {self.shards_done}/{self.shards}  "
                 f"rows {self.seen}/{self.rows}  {rate:.1f} rows/s  ETA {m:02d}:{s:02d}")

    def shard_done(self) -> None:
        self.shards_done += 1
        self.tick(0, force=True)


class _Rows(torch.utils.data.Dataset):
    def __init__(self, items: list[tuple[int, InputRow]], decode) -> None:
        self.items, self.decode = items, decode

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.decode(self.items[i][1])


def _single_threaded(_worker: int) -> None:
    torch.set_num_threads(1)  # each worker decodes whole rows; threads would oversubscribe


def _decoded(items: list[tuple[int, InputRow]], decode, workers: int) -> Iterator[dict]:
    data = _Rows(items, decode)
    if workers <= 0:
        return (data[i] for i in range(len(data)))
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=workers, prefetch_factor=2,
                                         worker_init_fn=_single_threaded)
    return iter(loader)


def _run_shards(extractor: FeatureExtractor, shards: dict[int, list[InputRow]], config: ExtractConfig,
                clock: _Clock) -> Iterator[tuple[int, dict, list[dict]]]:
    """Yield (shard, {"tensors", "rows"}, skipped) for each shard, in order."""
    items = [(k, row) for k, rows in shards.items() for row in rows]
    stream = _decoded(items, extractor.decoder(), config.workers)
    for k, rows in shards.items():
        encoded: list[tuple[InputRow, dict]] = []
        skipped: list[dict] = []
        pending: list[tuple[InputRow, dict]] = []
        for row in rows:
            item = next(stream)
            if "error" in item:
                skipped.append({"id": row.id, "path": row.path, "reason": item["error"]})
            else:
                pending.append((row, item))
            if len(pending) >= config.batch_size:
                _encode_batch(extractor, pending, encoded, skipped)
                pending = []
            clock.tick()
        _encode_batch(extractor, pending, encoded, skipped)
        yield k, _assemble(extractor, encoded), skipped


def _encode_batch(extractor: FeatureExtractor, batch: list[tuple[InputRow, dict]],
                  encoded: list[tuple[InputRow, dict]], skipped: list[dict]) -> None:
    if not batch:
        return
    try:
        encoded.extend(zip((r for r, _ in batch), _encode(extractor, [d for _, d in batch])))
    except Exception as exc:  # find the row that fails, keep the others
        if len(batch) == 1:
            row = batch[0][0]
            reason = f"encoding failed: {describe_error(exc)}"
            skipped.append({"id": row.id, "path": row.path, "reason": reason})
            return
        for one in batch:
            _encode_batch(extractor, [one], encoded, skipped)


def _encode(extractor: FeatureExtractor, items: list[dict]) -> list[dict]:
    mean, std = extractor.latents(torch.stack([d["audio"] for d in items]))
    out = [{"latent_mean": m, "latent_std": s} for m, s in zip(mean, std)]
    videos = [i for i, d in enumerate(items) if "frames8" in d]
    if videos:
        clip_f, sync_f = extractor.video(torch.stack([items[i]["frames8"] for i in videos]),
                                         torch.stack([items[i]["frames25"] for i in videos]))
        for j, i in enumerate(videos):
            out[i]["clip_f"], out[i]["sync_f"] = clip_f[j], sync_f[j]
    return out


def _assemble(extractor: FeatureExtractor, encoded: list[tuple[InputRow, dict]]) -> dict:
    shapes = extractor.shapes()
    captions = list(dict.fromkeys(r.caption for r, _ in encoded if r.caption))
    position = {c: i for i, c in enumerate(captions)}
    text = extractor.text(captions) if captions else {
        "text_f": torch.zeros(0, *shapes["text_shape"], dtype=extractor.feature_dtype)}
    if not captions and hasattr(extractor.encoders, "tokenize"):
        text["text_tokens"] = torch.zeros(0, shapes["text_shape"][0], dtype=torch.int32)
    videos = [f for _, f in encoded if "clip_f" in f]
    n = len(encoded)
    latent = shapes["latent_shape"]
    tensors = {
        "latent_mean": torch.stack([f["latent_mean"] for _, f in encoded]) if n else torch.zeros(0, *latent),
        "latent_std": torch.stack([f["latent_std"] for _, f in encoded]) if n else torch.zeros(0, *latent),
        "video_index": torch.tensor(_positions([("clip_f" in f) for _, f in encoded]), dtype=torch.int32),
        "text_index": torch.tensor([position.get(r.caption, -1) for r, _ in encoded], dtype=torch.int32),
        "clip_f": torch.stack([f["clip_f"] for f in videos]) if videos else
        torch.zeros(0, *shapes["clip_shape"], dtype=extractor.feature_dtype),
        "sync_f": torch.stack([f["sync_f"] for f in videos]) if videos else
        torch.zeros(0, *shapes["sync_shape"], dtype=extractor.feature_dtype),
        **text,
    }
    rows = [{"id": r.id, "path": r.path, "caption": r.caption, "start": r.start, "video": "clip_f" in f}
            for r, f in encoded]
    return {"tensors": tensors, "rows": rows}


def _positions(flags: list[bool]) -> list[int]:
    out, count = [], 0
    for flag in flags:
        out.append(count if flag else -1)
        count += flag
    return out
