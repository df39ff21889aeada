"""What `mfmjt extract` reads: a folder of media files, or a list of clips (CSV, TSV, JSON).

Folders: every video (and every audio file that is not the soundtrack of a video beside it,
i.e. has no video with the same name) becomes a row; its caption comes from a sidecar with the
same name (`clip.json` with a "caption" field, as `mfmjt synth` writes, or `clip.txt`).

Lists: a header names the columns, matched case-insensitively against the aliases below, so
VGGSound-style lists (`id, label` or `path, caption, start`) and AudioCaps/WavCaps-style lists
(`audiocap_id, youtube_id, start_time, caption`; WavCaps' JSON `{"data": [{"id", "caption",
"audio"}...]}`) read as they are. A list without a header is VGGSound's own `vggsound.csv`:
(youtube id, start seconds, label, split). Ids are resolved against the media folder by file
name: `ID.ext`, then `ID_START.ext` with the start as 6 digits or as written (VGGSound downloads
named `{id}_{start:06d}.mp4`; such a file already starts at the clip, so the row starts at 0),
then `YID.ext` (AudioSet style); an id that carries a media suffix (WavCaps' AudioSet part:
`Y<id>.wav` for a file shipped as `Y<id>.flac`) is also looked up without it. A path column whose
value names no file and no media (WavCaps writes the placeholder `"audio": "wav_path"`) gives way
to the id columns. AudioCaps' `start_time` is the clip's start in the YouTube video, but its
download scripts save the 10-second clip already cut (named by audiocap_id or youtube_id), so the
rows of an AudioCaps list found by id start at 0 in their file. Rows whose file cannot be found are
kept and reported as skipped by the extraction, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mfmjt_core.errors import MfmjtError
from mfmjt_schema.fields import VIDEO_FORMATS

# the formats a request may name (one list for the daemon, the command line and training)
VIDEO_SUFFIXES = tuple(f".{name}" for name in VIDEO_FORMATS)
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
MEDIA_SUFFIXES = VIDEO_SUFFIXES + AUDIO_SUFFIXES

PATH_COLUMNS = ("path", "file", "filename", "file_name", "video", "video_path", "audio", "audio_path",
                "wav_path", "location")
ID_COLUMNS = ("id", "video_id", "youtube_id", "ytid", "yid", "audiocap_id", "name")
CAPTION_COLUMNS = ("caption", "text", "description", "label", "labels", "class", "caption_1")
START_COLUMNS = ("start", "start_time", "start_seconds", "start_s", "begin")
END_COLUMNS = ("end", "end_time", "end_seconds", "end_s")
SPLIT_COLUMNS = ("split", "subset", "set")


class InputListError(MfmjtError):
    """The input of an extraction is not a folder or a readable list of clips."""

    exit_code = 2
    code = "bad_request"


@dataclass(frozen=True)
class InputRow:
    """One clip to extract: `duration` seconds of `path` from `start` (end: where it must stop)."""

    id: str
    path: str
    caption: str | None = None
    start: float = 0.0
    end: float | None = None


def list_inputs(source: str | os.PathLike, *, media_root: str | os.PathLike | None = None,
                split: str | None = None) -> list[InputRow]:
    """The rows of a folder or a CSV / TSV / JSON list, in a deterministic order."""
    path = Path(source).expanduser()
    if path.is_dir():
        return list_folder(path)
    if not path.is_file():
        raise InputListError(f"extraction input {path} is neither a folder nor a file")
    root = Path(media_root).expanduser() if media_root is not None else path.parent
    records = _read_json(path) if path.suffix.lower() == ".json" else _read_table(path)
    return _rows_from_records(records, root, split)


def list_folder(folder: Path) -> list[InputRow]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
    videos = {(p.parent, p.stem) for p in files if p.suffix.lower() in VIDEO_SUFFIXES}
    rows = []
    for p in files:
        if p.suffix.lower() in AUDIO_SUFFIXES and (p.parent, p.stem) in videos:
            continue  # the soundtrack of the video beside it (e.g. `mfmjt synth`'s .wav)
        rows.append(InputRow(id=p.relative_to(folder).with_suffix("").as_posix(), path=str(p),
                             caption=_sidecar_caption(p)))
    return rows


def _sidecar_caption(media: Path) -> str | None:
    sidecar = media.with_suffix(".json")
    if sidecar.is_file():
        try:
            caption = json.loads(sidecar.read_text()).get("caption")
        except (ValueError, AttributeError, OSError):
            caption = None
        if isinstance(caption, str):
            return caption
    text = media.with_suffix(".txt")
    if text.is_file():
        return text.read_text(errors="replace").strip() or None
    return None


def _read_table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(65536)
        f.seek(0)
        if path.suffix.lower() == ".tsv":
            delimiter = "\t"
        elif path.suffix.lower() == ".csv":
            delimiter = ","
        else:
            delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        table = [row for row in csv.reader(f, delimiter=delimiter) if any(c.strip() for c in row)]
    if not table:
        raise InputListError(f"{path} has no rows")
    header = [c.strip().lower() for c in table[0]]
    known = set(PATH_COLUMNS + ID_COLUMNS + CAPTION_COLUMNS + START_COLUMNS + END_COLUMNS)
    if any(c in known for c in header):
        return [dict(zip(header, (c.strip() for c in row))) for row in table[1:]]
    # No header: VGGSound's vggsound.csv (id, start seconds, label, split), or (path, caption).
    names = ("id", "start", "caption", "split") if len(table[0]) >= 3 else ("path", "caption")
    return [dict(zip(names, (c.strip() for c in row))) for row in table]


def _read_json(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise InputListError(f"{path} is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("data", data.get("rows"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputListError(f"{path}: expected a list of objects or {{\"data\": [...]}}")
    return [{str(k).lower(): ("" if v is None else str(v)) for k, v in r.items()} for r in data]


def _first(record: dict, names: Sequence[str]) -> str | None:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def _number(value: str | None, what: str, row: int) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise InputListError(f"row {row}: {what} {value!r} is not a number of seconds") from None


class _MediaIndex:
    """File-name stems under a folder -> paths (one scan, then dictionary look-ups)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stems: dict[str, Path] | None = None

    def by_stem(self, stem: str) -> Path | None:
        if self._stems is None:
            self._stems = {}
            if self.root.is_dir():
                for p in sorted(self.root.rglob("*")):
                    if p.suffix.lower() in MEDIA_SUFFIXES:
                        self._stems.setdefault(p.stem, p)
        return self._stems.get(stem)


def _resolve(record: dict, root: Path, media: _MediaIndex,
             start: float | None) -> tuple[str, bool, str | None]:
    """(path, trimmed, id): trimmed when the file found is already cut at the row's start; id
    is the id column's value that named the file."""
    ids = [record[c] for c in ID_COLUMNS if record.get(c)]
    cut = "audiocap_id" in record  # AudioCaps media are the published 10 s cuts
    value, fallback = _first(record, PATH_COLUMNS), None
    if value is not None:
        p = Path(value).expanduser()
        p = p if p.is_absolute() else root / p
        if p.exists():
            return str(p), False, None
        named = p.suffix.lower() in MEDIA_SUFFIXES
        found = media.by_stem(p.stem if named else p.name)  # e.g. listed .wav, shipped .flac
        if found:
            return str(found), False, None
        if not ids:
            return str(p), False, None
        # WavCaps: "audio" is the placeholder "wav_path" and FreeSound's "file_name" the
        # uploader's name; the files are named by id
        fallback = p if named else None
    for ident in ids:
        bare = ident[: -len(Path(ident).suffix)] if Path(ident).suffix.lower() in MEDIA_SUFFIXES else ident
        found = media.by_stem(ident) or media.by_stem(bare)
        if found:
            return str(found), cut, ident
        if start is not None:
            for stem in (f"{ident}_{int(start):06d}", f"{ident}_{int(start)}", f"{ident}_{start:g}"):
                found = media.by_stem(stem)
                if found:
                    return str(found), True, ident
        found = media.by_stem(f"Y{ident}")
        if found:
            return str(found), cut, ident
    if not ids:
        raise InputListError(f"a row has no path or id column (columns: {sorted(record)})")
    return str(fallback or root / ids[0]), False, ids[0]


def _rows_from_records(records: Iterable[dict], root: Path, split: str | None) -> list[InputRow]:
    media = _MediaIndex(root)
    rows: list[InputRow] = []
    seen: dict[str, int] = {}
    for n, record in enumerate(records, start=1):
        if split is not None:
            value = _first(record, SPLIT_COLUMNS)
            if value is not None and value != split:
                continue
        start = _number(_first(record, START_COLUMNS), "start", n)
        end = _number(_first(record, END_COLUMNS), "end", n)
        path, trimmed, ident = _resolve(record, root, media, start)
        if trimmed:
            start, end = 0.0, None if end is None or start is None else end - start
        ident = ident or _first(record, ID_COLUMNS) or Path(path).stem
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] > 1:  # e.g. AudioCaps: several captions of one clip
            ident = f"{ident}~{seen[ident]}"
        rows.append(InputRow(id=ident, path=path, caption=_first(record, CAPTION_COLUMNS),
                             start=start or 0.0, end=end))
    return rows
