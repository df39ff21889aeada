"""The ledger of routes tried (issue 18): one row per trained model or sampling route, with the
compute it took and its scores, kept as `routes.json` beside an evaluation's `results.md`.

Rows are added from an evaluation's own `results.json` (`mfmjt eval route`), so their numbers
are the evaluation's, not typed in; rows of models whose evaluation folders are gone carry the
numbers and the section of docs/training.md that recorded them. `results.md` shows the ledger
as its "Routes tried" section, and every `mfmjt eval synth` into that folder keeps it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from mfmjt_core.evaluation.grid import guidance_column

LEDGER_NAME = "routes.json"
SECTION_TITLE = "## Routes tried (issue 18)"
_VERSION = 1


class LedgerError(ValueError):
    """A ledger or an evaluation folder that cannot give a route's row."""


@dataclass(frozen=True)
class Compute:
    device: str  # "CPU, 1 thread", "H200" ...
    minutes: float | None  # wall minutes of training
    steps: str  # "10508 FM + 2000 MeanFlow (batch 16)"
    share: float | None = None  # of the shipped line's compute (17,000 flow-matching steps of batch 16)


@dataclass(frozen=True)
class VideoScore:
    setting: str  # "1 step, plain 1.25"
    onset_f1: float | None
    material: float | None
    frechet: float | None


@dataclass(frozen=True)
class TextScore:
    setting: str
    heard_material: float | None
    frechet: float | None


@dataclass(frozen=True)
class OutsideScore:
    """The same model on clips made outside the project (`mfmjt eval clips`, pooled over the folder)."""
    clips: int
    onset_f1: float | None
    precision: float | None
    frechet: float | None


@dataclass(frozen=True)
class Route:
    name: str
    route: str  # which route of the issue: "flow model converted to a flow map" ...
    what: str
    compute: Compute
    split: str
    clips: int
    video: VideoScore | None
    unguided: VideoScore | None
    text: TextScore | None
    source: str  # the evaluation's command, or the section of the docs that recorded the numbers
    date: str = ""
    note: str = ""
    outside: OutsideScore | None = None


# What each field of a ledger row must hold ("num?": a finite number or null; a class: its own
# object, "?" when it may be null). Rows are typed on reading, so a hand-edited ledger that would
# break the report is refused before any evaluation starts, with the row and field named.
_SCORE = "num?"
_FIELDS: dict[type, dict[str, object]] = {
    Compute: {"device": str, "minutes": _SCORE, "steps": str, "share": _SCORE},
    VideoScore: {"setting": str, "onset_f1": _SCORE, "material": _SCORE, "frechet": _SCORE},
    TextScore: {"setting": str, "heard_material": _SCORE, "frechet": _SCORE},
    OutsideScore: {"clips": int, "onset_f1": _SCORE, "precision": _SCORE, "frechet": _SCORE},
    Route: {"name": str, "route": str, "what": str, "compute": Compute, "split": str, "clips": int,
            "video": (VideoScore, None), "unguided": (VideoScore, None), "text": (TextScore, None),
            "source": str, "date": str, "note": str, "outside": (OutsideScore, None)},
}


def _typed(cls: type, d: object, where: str):
    if not isinstance(d, dict):
        raise LedgerError(f"{where}: expected an object, got {type(d).__name__}")
    kinds = _FIELDS[cls]
    optional = {f.name for f in fields(cls) if f.default is not MISSING}
    unknown = sorted(set(d) - set(kinds))
    if unknown:
        raise LedgerError(f"{where}: unknown field(s) {', '.join(unknown)}")
    values = {}
    for key, kind in kinds.items():
        if key not in d:
            if key in optional:  # left out: the field's default
                continue
            raise LedgerError(f"{where}: missing field {key!r}")
        value, at = d[key], f"{where}.{key}"
        if isinstance(kind, tuple):  # a nested object or null
            values[key] = None if value is None else _typed(kind[0], value, at)
        elif kind in _FIELDS:
            values[key] = _typed(kind, value, at)
        elif kind == _SCORE:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value)):
                raise LedgerError(f"{at}: expected a finite number or null, got {value!r}")
            values[key] = value
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LedgerError(f"{at}: expected a positive whole number, got {value!r}")
            values[key] = value
        else:
            if not isinstance(value, str):
                raise LedgerError(f"{at}: expected text, got {value!r}")
            values[key] = value
    return cls(**values)


def read_ledger(path: Path) -> list[Route]:
    """The routes of a ledger file; none when it does not exist."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise LedgerError(f"{path} is not JSON: {e}") from e
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        found = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise LedgerError(f"{path}: ledger version {found!r}, this mfmjt reads {_VERSION}")
    rows = data.get("routes", [])
    if not isinstance(rows, list):
        raise LedgerError(f"{path}: \"routes\" must be a list")
    routes = [_typed(Route, d, f"{path}: route {i + 1}" + (f" ({d['name']!r})" if isinstance(d, dict)
                                                             and isinstance(d.get("name"), str) else ""))
              for i, d in enumerate(rows)]
    names = [r.name for r in routes]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise LedgerError(f"{path}: more than one route named {', '.join(duplicated)}")
    return routes


def write_ledger(path: Path, routes: list[Route]) -> None:
    """Write atomically: a failed write leaves the old ledger whole."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": _VERSION, "routes": [asdict(r) for r in routes]}, indent=1,
                              ensure_ascii=False) + "\n")
    tmp.replace(path)


def with_route(routes: list[Route], route: Route) -> list[Route]:
    """The ledger with `route` in place of the row of the same name, else appended."""
    names = [r.name for r in routes]
    if route.name in names:
        return [route if r.name == route.name else r for r in routes]
    return [*routes, route]


def _setting(run: dict) -> str:
    steps = f"{run['steps']} step" + ("s" if run["steps"] != 1 else "")
    return steps + (", unguided" if run["guidance"] == "off" else f", {run['guidance']} {run['scale']:g}")


# Sampling flags of `mfmjt eval clips` that would make its takes other than the model's defaults.
_CLIPS_OVERRIDES = ("steps", "guidance", "rescale", "temperature")


def outside_score(clips_results: dict, model_key: str) -> OutsideScore:
    """The outside-clips cell from `mfmjt eval clips`' results.json. It must have measured the
    row's own model file (the same key: name and sha256) at that file's defaults, video only, so
    the cell shows what users of that model get on footage the world did not make."""
    try:
        aggregate, settings, model = clips_results["aggregate"], clips_results["settings"], clips_results["model"]
    except (KeyError, TypeError) as e:
        raise LedgerError(f"--outside: not the results of `mfmjt eval clips` (no {e})") from e
    if model.get("key") != model_key:
        raise LedgerError(f"--outside measured another model ({model.get('key')}), the row's is {model_key}")
    changed = [f"--{k}" for k in _CLIPS_OVERRIDES if settings.get(k) is not None]
    if settings.get("prompt"):
        changed.append("--prompt")
    if changed:
        raise LedgerError(f"--outside was run with {', '.join(changed)}: a row shows the model at its own "
                          "defaults, with the picture only; evaluate the clips again without them")
    if not aggregate.get("clips"):
        raise LedgerError("--outside scored no clips")
    return OutsideScore(int(aggregate["clips"]), aggregate.get("onset_f1"), aggregate.get("onset_precision"),
                        aggregate.get("frechet"))


def route_from_results(results: dict, *, name: str, route: str, what: str, compute: Compute,
                       video: str | None = None, unguided: str | None = None, text: str | None = None,
                       note: str = "", date: str | None = None, source: str | None = None,
                       outside: dict | None = None) -> Route:
    """A ledger row from an evaluation's results.json. Runs not named are taken from the
    evaluation: its one-step MeanFlow runs when it made any, else its 25-step flow-matching runs;
    the video and text runs at the model's own default guidance (as users get it; prompt-only at
    its text guidance) and the unguided video run. A row with no scores at all is refused.
    `outside`: the results.json of `mfmjt eval clips` of the same model file, for its
    outside-clips cell."""
    try:
        runs = {r["name"]: r for r in results["runs"]}
        settings, command = results["settings"], results["command"]
    except (KeyError, TypeError) as e:
        raise LedgerError(f"not the results of `mfmjt eval synth` (no {e})") from e
    prefix, role = ("mf1", "mf") if any(n.startswith("mf1-") for n in runs) else ("fm25", "fm")
    model = results.get("models", {}).get(role, {})
    defaults = model.get("defaults", {})
    picks = {"video": video or f"{prefix}-{guidance_column(defaults)}-video",
             "unguided": unguided or f"{prefix}-off-video",
             "text": text or f"{prefix}-{guidance_column(defaults, 'text')}-text"}
    for role_name, flag in (("video", video), ("unguided", unguided), ("text", text)):
        if flag is not None and flag not in runs:
            raise LedgerError(f"no run {flag!r} ({role_name}) in the evaluation; it made: {', '.join(runs)}")
    if not any(name in runs for name in picks.values()):
        raise LedgerError(f"the evaluation made none of the runs a row takes ({', '.join(picks.values())}); "
                          f"it made: {', '.join(runs)}; name them with --video, --unguided or --text")
    picks = {k: (v if v in runs else None) for k, v in picks.items()}  # not made: an empty cell

    def video_score(run_name: str | None) -> VideoScore | None:
        if run_name is None:
            return None
        r = runs[run_name]
        return VideoScore(_setting(r), r["onset_f1"], r["material_accuracy"], r["frechet"])

    t = runs[picks["text"]] if picks["text"] else None
    return Route(
        name=name, route=route, what=what, compute=compute, split=settings.get("split", "test"),
        clips=int(settings["clips"]), video=video_score(picks["video"]), unguided=video_score(picks["unguided"]),
        text=TextScore(_setting(t), t["heard_material_accuracy"], t["frechet"]) if t else None,
        source=source or command, date=date or time.strftime("%Y-%m-%d"), note=note,
        outside=None if outside is None else outside_score(outside, model.get("key", "")))


def _n(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _video_cell(s: VideoScore | None) -> str:
    if s is None:
        return "–"
    return f"{_n(s.onset_f1, 3)} / {_n(s.material, 2)} / {_n(s.frechet, 0)} ({s.setting})"


def _outside_cell(s: OutsideScore | None) -> str:
    if s is None:
        return "–"
    return f"{_n(s.onset_f1, 3)} (precision {_n(s.precision, 2)}) / {_n(s.frechet, 0)} ({s.clips} clips)"


def _compute_cell(c: Compute) -> str:
    parts = [c.device, f"{c.minutes:g} min" if c.minutes is not None else "minutes not recorded", c.steps]
    if c.share is not None:
        parts.append(f"{c.share:.0%} of the shipped line's")
    return "; ".join(parts)


def _cell(text: str) -> str:
    """Text safe inside a table cell: backslashes first, so an escaped pipe stays one."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").splitlines())


def render_routes(routes: list[Route]) -> list[str]:
    """The ledger as the "Routes tried" section of results.md."""
    if not routes:
        return []
    lines = [SECTION_TITLE, "",
             "One row per model or route tried for issue 18, with its training compute and its scores "
             "(onset F1 / material accuracy / Fréchet; text only: heard material / Fréchet). Each row "
             "names the evaluation that measured it (its clips are the row's; the tables above are "
             "this evaluation's own clips) or, for models no longer kept, the section of docs/training.md that "
             "recorded the numbers. Outside clips: the same file at its defaults on clips made outside "
             "the project (`mfmjt eval clips`; onset F1 (precision) / Fréchet, docs/evaluation.md). "
             "Added with `mfmjt eval route`; kept in `routes.json`.", "",
             "| route | model | compute (device; wall time; steps) | clips | video | video, unguided | "
             "text only | outside clips | outcome | measured by |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in routes:
        text = "–" if r.text is None else (f"{_n(r.text.heard_material, 2)} / {_n(r.text.frechet, 0)} "
                                           f"({r.text.setting})")
        same = r.unguided is not None and r.unguided == r.video
        source = r.source if r.source.startswith("docs/") else f"`{r.source}`"  # the docs, or a command
        cells = [r.route, f"**{r.name}**: {r.what}", _compute_cell(r.compute), f"{r.clips} {r.split}",
                 _video_cell(r.video), "the video column's run" if same else _video_cell(r.unguided), text,
                 _outside_cell(r.outside), r.note, source + (f" ({r.date})" if r.date else "")]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def replace_section(markdown: str, section: list[str]) -> str:
    """`markdown` with its routes section replaced by `section` (inserted before the figure, or
    at the end, when it has none)."""
    lines = markdown.split("\n")
    start = next((i for i, line in enumerate(lines) if line == SECTION_TITLE), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")
                    or lines[i].startswith("![")), len(lines))
        del lines[start:end]
        at = start
    else:
        at = next((i for i, line in enumerate(lines) if line.startswith("![")), len(lines))
    block = [*section, ""] if section else []
    return "\n".join(lines[:at] + block + lines[at:])
