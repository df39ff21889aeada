"""The ledger of routes tried (issue 18): one row per trained model or sampling route, with the
compute it took and its scores, kept as `routes.json` beside an evaluation's `results.md`.

Rows are added from an evaluation's own `results.json` (`mfmjt eval route`), so their numbers
are the evaluation's, not typed in; rows of models whose evaluation folders are gone carry the
numbers and the section of docs/training.md that recorded them. `results.md` shows the ledger
as its "Routes tried" section, and every `mfmjt eval synth` into that folder keeps it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
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


def _route_from_json(d: dict) -> Route:
    try:
        return Route(
            name=d["name"], route=d["route"], what=d["what"], compute=Compute(**d["compute"]),
            split=d["split"], clips=int(d["clips"]),
            video=VideoScore(**d["video"]) if d.get("video") else None,
            unguided=VideoScore(**d["unguided"]) if d.get("unguided") else None,
            text=TextScore(**d["text"]) if d.get("text") else None,
            source=d["source"], date=d.get("date", ""), note=d.get("note", ""))
    except (KeyError, TypeError) as e:
        raise LedgerError(f"route {d.get('name', '?')!r}: {e}") from e


def read_ledger(path: Path) -> list[Route]:
    """The routes of a ledger file; none when it does not exist."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise LedgerError(f"{path} is not JSON: {e}") from e
    if data.get("version") != _VERSION:
        raise LedgerError(f"{path}: ledger version {data.get('version')!r}, this mfmjt reads {_VERSION}")
    return [_route_from_json(d) for d in data.get("routes", [])]


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


def route_from_results(results: dict, *, name: str, route: str, what: str, compute: Compute,
                       video: str | None = None, unguided: str | None = None, text: str | None = None,
                       note: str = "", date: str | None = None, source: str | None = None) -> Route:
    """A ledger row from an evaluation's results.json. Runs not named are taken from the
    evaluation: its one-step MeanFlow runs when it made any, else its 25-step flow-matching runs;
    the video and text runs at the model's own default guidance (as users get it) and the
    unguided video run."""
    runs = {r["name"]: r for r in results["runs"]}
    prefix, role = ("mf1", "mf") if any(n.startswith("mf1-") for n in runs) else ("fm25", "fm")
    mode = guidance_column(results["models"].get(role, {}).get("defaults", {}))
    picks = {"video": video or f"{prefix}-{mode}-video", "unguided": unguided or f"{prefix}-off-video",
             "text": text or f"{prefix}-{mode}-text"}
    for role_name, flag in (("video", video), ("unguided", unguided), ("text", text)):
        if flag is not None and flag not in runs:
            raise LedgerError(f"no run {flag!r} ({role_name}) in the evaluation; it made: {', '.join(runs)}")
        if flag is None and picks[role_name] not in runs:
            picks[role_name] = None  # the evaluation did not make it: an empty cell

    def video_score(run_name: str | None) -> VideoScore | None:
        if run_name is None:
            return None
        r = runs[run_name]
        return VideoScore(_setting(r), r["onset_f1"], r["material_accuracy"], r["frechet"])

    t = runs[picks["text"]] if picks["text"] else None
    settings = results["settings"]
    return Route(
        name=name, route=route, what=what, compute=compute, split=settings.get("split", "test"),
        clips=int(settings["clips"]), video=video_score(picks["video"]), unguided=video_score(picks["unguided"]),
        text=TextScore(_setting(t), t["heard_material_accuracy"], t["frechet"]) if t else None,
        source=source or results["command"], date=date or time.strftime("%Y-%m-%d"), note=note)


def _n(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _video_cell(s: VideoScore | None) -> str:
    if s is None:
        return "–"
    return f"{_n(s.onset_f1, 3)} / {_n(s.material, 2)} / {_n(s.frechet, 0)} ({s.setting})"


def _compute_cell(c: Compute) -> str:
    parts = [c.device, f"{c.minutes:g} min" if c.minutes is not None else "minutes not recorded", c.steps]
    if c.share is not None:
        parts.append(f"{c.share:.0%} of the shipped line's")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_routes(routes: list[Route]) -> list[str]:
    """The ledger as the "Routes tried" section of results.md."""
    if not routes:
        return []
    lines = [SECTION_TITLE, "",
             "One row per model or route tried for issue 18, with its training compute and its scores "
             "(onset F1 / material accuracy / Fréchet; text only: heard material / Fréchet). Each row "
             "names the evaluation that measured it (its clips are the row's; the table above is the "
             "32 test clips) or, for models no longer kept, the section of docs/training.md that "
             "recorded the numbers. Added with `mfmjt eval route`; kept in `routes.json`.", "",
             "| route | model | compute (device; wall time; steps) | clips | video | video, unguided | "
             "text only | outcome | measured by |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in routes:
        text = "–" if r.text is None else (f"{_n(r.text.heard_material, 2)} / {_n(r.text.frechet, 0)} "
                                           f"({r.text.setting})")
        same = r.unguided is not None and r.video is not None and (
            (r.unguided.onset_f1, r.unguided.material, r.unguided.frechet)
            == (r.video.onset_f1, r.video.material, r.video.frechet))
        source = r.source if r.source.startswith("docs/") else f"`{r.source}`"  # the docs, or a command
        cells = [r.route, f"**{r.name}**: {r.what}", _compute_cell(r.compute), f"{r.clips} {r.split}",
                 _video_cell(r.video), "its default is unguided" if same else _video_cell(r.unguided), text,
                 r.note, source + (f" ({r.date})" if r.date else "")]
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
