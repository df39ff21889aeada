"""`mfmjt distill`: a one-step student from a flow-matching teacher, on the one training loop.

The student starts as a copy of the teacher's network (converting a trained flow model into a
flow map beats training the map from scratch: Decoupled MeanFlow), or as another model file's
network in the teacher's latent space (e.g. the teacher already converted into a flow map by
MeanFlow training on data), and learns the teacher's guided solutions (`distill.py`). A student
with encoders of its own reads its own encodings of the same rows. Rows are conditions
(`distill_data.py`); `group` consecutive rows share one teacher trajectory (same conditions,
same noise) and read different (t, r) pairs from it, which divides the teacher's cost by
`group`. Every draw is seeded by the global row index, so a run resumes exactly and any
process count under torchrun sees the same rows.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mfmjt_core.flows.guidance import MODES, Guidance
from mfmjt_core.flows.paths import expand_like
from mfmjt_core.model import AudioModel, SamplingDefaults
from mfmjt_core.model.file import weights_digest
from mfmjt_core.network.adapter import AverageVelocity
from mfmjt_core.training.distill import (
    PairMix,
    TeacherPath,
    distill_loss,
    draw_pairs,
    pair_targets,
    teacher_trajectory,
)
from mfmjt_core.training.distill_data import CONDITIONS_FILE, ConditionSet
from mfmjt_core.training.draws import Draws, row_seed
from mfmjt_core.training.task_loss import drop_conditions
from mfmjt_core.training.train_config import NO_PICTURES, ObjectiveConfig, OptimConfig, TrainConfig

PAIR_STREAM = 3
ORDER_STREAM = 4
TEACHER_FILE = "teacher.safetensors"
STUDENT_CONDITIONS_FILE = "conditions-student.safetensors"


@dataclass(frozen=True)
class DistillSettings:
    """How the teacher makes targets; None fields take the teacher's own sampling defaults."""

    pairs: PairMix = field(default_factory=PairMix)
    guidance: float | None = None  # teacher's CFG scale (1: unguided)
    rescale: str | None = None  # guidance mode of the teacher (flows/guidance.py)
    temperature: float | None = None  # scale of the starting noise (the student's default too)
    # The same two for rows without a picture (prompt only). None: the teacher's own prompt-only
    # defaults where it has them, else the two above. A teacher's prompt-only takes are made
    # at their own settings (a cooled caption-only sample falls toward silence), and the
    # student learns them there.
    text_guidance: float | None = None
    text_temperature: float | None = None
    group: int = 4  # rows that share one teacher trajectory
    weight_p: float = 0.0  # adaptive loss weight power (0: plain MSE)
    few_steps: int = 4  # the few-step setting recorded with the student
    path: TeacherPath | None = None  # how the teacher solves (None: pairs.steps uniform Euler steps)

    def __post_init__(self) -> None:
        if self.path is None:
            return
        if self.path.steps != self.pairs.steps:
            raise ValueError(f"the teacher's path has {self.path.steps} steps, the pairs {self.pairs.steps}")
        if self.path.average and self.pairs.velocity:
            raise ValueError("a teacher that jumps with its average velocity gives chords only: "
                             "set the share of velocity rows to 0")

    def resolved(self, teacher: AudioModel) -> DistillSettings:
        path = self.path or TeacherPath.uniform(self.pairs.steps)
        if path.average and teacher.spec.objective != "meanflow":
            raise ValueError("only a MeanFlow teacher has average velocities to jump with; "
                             f"this one is {teacher.spec.objective!r}")
        d = teacher.spec.defaults
        rescale = d.rescale if self.rescale is None else self.rescale
        if rescale not in MODES:
            raise ValueError(f"unknown guidance mode {rescale!r}; choose from {', '.join(MODES)}")
        # the teacher's defaults with this run's picture settings: their prompt-only values fall
        # back to these where the teacher has none
        d = dataclasses.replace(d, guidance=d.guidance if self.guidance is None else self.guidance,
                                temperature=d.temperature if self.temperature is None else self.temperature)
        return dataclasses.replace(
            self, path=path, guidance=d.guidance, rescale=rescale, temperature=d.temperature,
            text_guidance=d.guidance_for(False) if self.text_guidance is None else self.text_guidance,
            text_temperature=d.temperature_for(False) if self.text_temperature is None else self.text_temperature)


def default_train_config() -> TrainConfig:
    """Sized for a CPU smoke run; a GPU run sets --steps, --batch-size and the learning rate."""
    return TrainConfig(
        steps=2000, batch_size=16, seed=0, null_video=0.0, null_text=0.0,
        objective=ObjectiveConfig(kind="meanflow"),
        optim=OptimConfig(lr=3e-4, warmup_steps=50, decay="cosine", min_lr_ratio=0.1, ema_decay=0.995),
        log_every=10, checkpoint_every=50,
    )


def teacher_steps_default(teacher: AudioModel) -> int:
    """The teacher's own step count when it is a multi-step flow model, else 25 Euler steps."""
    d = teacher.spec.defaults
    return d.steps if teacher.spec.objective == "fm" and d.steps > 1 else 25


class DistillTask:
    """`TrainTask`: the student network learns the frozen teacher's trajectories."""

    def __init__(self, teacher: AudioModel, conditions: ConditionSet, settings: DistillSettings, *,
                 seed: int, student: AudioModel | None = None,
                 student_conditions: ConditionSet | None = None) -> None:
        """`student`: the model whose network and encoders the student starts from (default: the
        teacher); `student_conditions`: the rows as its encoders see them, when they are not the
        teacher's (the same rows in the same order)."""
        self.teacher = teacher.eval()
        self.teacher.net.requires_grad_(False)
        self.settings = settings.resolved(teacher)
        self.conditions_set = conditions
        if student_conditions is not None and not torch.equal(student_conditions.rows, conditions.rows):
            raise ValueError("the student's conditions must be the teacher's rows")
        self.student_conditions = student_conditions
        start = student or teacher
        # what the export needs of the start; its network lives on only as the student's copy
        self.start_spec, self.start_encoders = start.spec, start.encoders
        self.seed = seed
        self.model: nn.Module = copy.deepcopy(start.net).train()
        for name, p in self.model.named_parameters():  # the student trains what the teacher trained
            p.requires_grad_(name not in ("latent_mean", "latent_std", "empty_string_feat"))
        self.convention = teacher.net.config.time_convention
        self.student_convention = start.net.config.time_convention
        self.num_latents = teacher.codec.num_latents(teacher.spec.window_s)  # as the generator samples

    def latent_shape(self) -> Sequence[int]:
        return (self.num_latents, self.teacher.net.config.latent_dim)

    def _row(self, trajectory: int) -> int:
        n = len(self.conditions_set)
        epoch, position = divmod(trajectory, n)
        g = torch.Generator().manual_seed(row_seed(self.seed, epoch, 0, ORDER_STREAM))
        return int(torch.randperm(n, generator=g)[position])

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Conditions of each row's trajectory and its (start, end) grid pair (CPU tensors)."""
        c, group = self.conditions_set, self.settings.group
        picks = {}
        rows = []
        for i in indices:
            trajectory = i // group
            if trajectory not in picks:
                picks[trajectory] = self._row(trajectory)
            rows.append(picks[trajectory])
        video, text = c.rows[rows].unbind(1)
        pairs = [draw_pairs(1, self.settings.pairs, torch.Generator().manual_seed(
            row_seed(self.seed, 0, i, PAIR_STREAM))) for i in indices]
        batch = {
            **self._features(c, self.teacher.encoders, video, text),
            "has_video": video >= 0, "has_text": text >= 0,
            "start": torch.cat([p[0] for p in pairs]), "end": torch.cat([p[1] for p in pairs]),
        }
        if self.student_conditions is not None:
            own = self._features(self.student_conditions, self.start_encoders, video, text)
            batch.update({f"student_{k}": v for k, v in own.items()})
        return batch

    def _features(self, c: ConditionSet, encoders, video: torch.Tensor,
                  text: torch.Tensor) -> dict[str, torch.Tensor]:
        def pick(stored: torch.Tensor, index: torch.Tensor, what: str) -> torch.Tensor:
            if len(stored):
                return stored[index.clamp(min=0)]
            # no row has this modality: placeholders (every row takes the empty features)
            shape = getattr(encoders.feature_shapes(self.teacher.spec.window_s), what)
            return torch.zeros(len(index), *shape)

        return {"clip_f": pick(c.clip_f, video, "clip"), "sync_f": pick(c.sync_f, video, "sync"),
                "text_f": pick(c.text_f, text, "text")}

    @staticmethod
    def with_empties(net, batch: dict) -> dict[str, torch.Tensor]:
        return drop_conditions(net, batch, ~batch["has_video"], ~batch["has_text"])

    def loss(self, forward_model: nn.Module, jvp_model: nn.Module, batch: dict, draws: Draws,
             objective: ObjectiveConfig) -> tuple[torch.Tensor, dict[str, float]]:
        s = self.settings
        device = draws.noise.device
        teacher = self.teacher.net
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        b = draws.noise.shape[0]
        lead = torch.arange(0, b, s.group, device=device)
        teacher_cond = {k: v[lead] for k, v in self.with_empties(teacher, batch).items()}
        picture = expand_like(batch["has_video"][lead].to(device), draws.noise[lead])
        scale = torch.where(picture, s.guidance, s.text_guidance)  # per trajectory, (n, 1, 1)
        guidance = None
        if s.rescale != "none" and (scale != 1.0).any():
            guidance = Guidance(scale=scale, mode=s.rescale, uncond=teacher.empty_conditions(
                len(lead), teacher_cond["clip_f"].shape[1], teacher_cond["sync_f"].shape[1]))
        noise = torch.where(picture, s.temperature, s.text_temperature) * draws.noise[lead]
        states, velocities = teacher_trajectory(
            AverageVelocity(teacher, self.convention), noise, teacher_cond, path=s.path, guidance=guidance)
        group = torch.arange(b, device=device) // s.group
        z_t, r, t, target = pair_targets(states, velocities, group, batch["start"], batch["end"], s.path.grid())
        own = batch if self.student_conditions is None else {
            "has_video": batch["has_video"], "has_text": batch["has_text"],
            **{k: batch[f"student_{k}"] for k in ("clip_f", "sync_f", "text_f")}}
        student_cond = self.with_empties(jvp_model, own)  # the unwrapped student's empty features
        return distill_loss(AverageVelocity(forward_model, self.student_convention), z_t, r, t, target, student_cond,
                            weight_p=s.weight_p)

    def student_spec(self, name: str | None = None):
        s, spec, teacher = self.settings, self.start_spec, self.teacher.spec
        return dataclasses.replace(
            spec, name=name or f"{teacher.name}-distilled", objective="meanflow",
            codec=teacher.codec, window_s=teacher.window_s,
            defaults=SamplingDefaults(steps=1, guidance=1.0, rescale=teacher.defaults.rescale,
                                      temperature=s.temperature, text_temperature=s.text_temperature,
                                      **self._decoding()),
            training={"distilled_from": teacher.name, "student_from": spec.name,
                      "teacher_steps": s.pairs.steps, "teacher_times": list(s.path.times),
                      "teacher_average": s.path.average, "teacher_guided_above": s.path.guided_above,
                      "teacher_guidance": s.guidance, "teacher_text_guidance": s.text_guidance,
                      "teacher_rescale": s.rescale, "text_temperature": s.text_temperature,
                      "temperature": s.temperature, "few_steps": s.few_steps, "seed": self.seed,
                      "note": "guidance is in the student (default scale 1); --steps "
                              f"{s.few_steps} for the few-step setting"})

    def export(self, state_dict: dict[str, torch.Tensor], path: Path) -> None:
        net = copy.deepcopy(self.model).cpu()
        net.load_state_dict(state_dict)
        AudioModel(self.student_spec(), self.start_encoders, net, self.teacher.codec).save(path)

    def export_teacher(self, path: Path) -> Path:
        """The teacher as it made the targets (flow matching, its steps, guidance and temperature),
        so `mfmjt eval synth --model student --baseline teacher` compares like with like."""
        s, spec = self.settings, self.teacher.spec
        teacher_spec = dataclasses.replace(
            spec, objective="fm", defaults=SamplingDefaults(
                steps=s.pairs.steps, guidance=s.guidance, rescale=s.rescale, temperature=s.temperature,
                text_guidance=s.text_guidance, text_temperature=s.text_temperature, **self._decoding()))
        return AudioModel(teacher_spec, self.teacher.encoders, self.teacher.net, self.teacher.codec).save(path)

    def _decoding(self) -> dict:
        """The teacher's spectrum median: it acts on the take after sampling, so the student's
        takes and the teacher's as it is compared keep it."""
        d = self.teacher.spec.defaults
        return {"median_frames": d.median_frames, "text_median_frames": d.text_median_frames}


def load_teacher(name: str | None, *, device: str = "cpu") -> AudioModel:
    """"embedded" (or None): the shipped model; a model file; a published bundle name."""
    from mfmjt_core.pipeline.generator import Generator

    return Generator.load(None if name in (None, "embedded") else name, device=device).model


def check_student(teacher: AudioModel, student: AudioModel) -> None:
    """The student must work in the teacher's latent space (the teacher's trajectories are its
    targets, and it is exported with the teacher's codec) and take the same sequence."""
    t, s = teacher.net, student.net
    problems = []
    if student.spec.window_s != teacher.spec.window_s or s.config.sequence != t.config.sequence:
        problems.append(f"another window or sequence ({student.spec.window_s:g} s; "
                        f"the teacher: {teacher.spec.window_s:g} s)")
    if s.config.latent_dim != t.config.latent_dim or _latent_codec(student) != _latent_codec(teacher):
        problems.append("another codec or latent layout")
    elif not (torch.equal(s.latent_mean.cpu(), t.latent_mean.cpu()) and torch.equal(s.latent_std.cpu(),
                                                                                     t.latent_std.cpu())):
        problems.append("other latent statistics (it was not trained from the teacher)")
    if getattr(s.config, "guidance_input", False):
        problems.append("a guidance-input network (the student learns guidance itself, at scale 1)")
    if problems:
        raise ValueError(f"the student {student.spec.name!r} does not fit the teacher: " + "; ".join(problems))


def _latent_codec(model: AudioModel) -> dict:
    """The codec's description less its decode-time ceiling (which changes no latent)."""
    data = json.loads(json.dumps(model.spec.codec.to_dict()))
    if isinstance(data.get("config"), dict):
        data["config"].pop("log_mel_ceiling", None)
    return data


def same_encoders(a: AudioModel, b: AudioModel) -> bool:
    """Whether two models read media into the same features (one bundle, or equal weights)."""
    bundle_a, bundle_b = (getattr(m.spec.encoders, "bundle", None) for m in (a, b))
    if bundle_a or bundle_b:
        return bundle_a == bundle_b
    sa, sb = a.encoders.state_dict(), b.encoders.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def model_digest(model: AudioModel) -> str:
    """Identity of a student's start: its network and encoders weights."""
    return weights_digest(("net.", model.net), ("encoders.", model.encoders))


def _check_resume(out: Path, start_digest: str | None) -> None:
    """A run folder continues only from the start it began with: resuming another student's
    checkpoint, or a file that changed since, would mix two networks or two feature sets."""
    run = out / "run.json"
    if not (out / "train_state.pt").exists() or not run.exists():
        return
    began = json.loads(run.read_text()).get("student_digest")
    if began != start_digest:
        what = "a copy of the teacher" if began is None else f"a student file with weights {began}"
        now = "a copy of the teacher" if start_digest is None else f"weights {start_digest}"
        raise ValueError(f"{out} began from {what}, not {now}: give the same --student, or a new --out")


def prepare_conditions(teacher: AudioModel, data: Sequence[str], out: Path, *, captions: bool = True,
                       log: Callable[[str], None] | None = None, name: str = CONDITIONS_FILE) -> ConditionSet:
    """Encode --data once per run folder (a rerun or resume reads `conditions.safetensors`);
    `teacher` is whichever model's encoders read the data."""
    from mfmjt_core.pipeline.generator import _encoder_id
    from mfmjt_core.training.distill_data import encode_conditions, list_sources, sources_digest

    sources = list_sources(data)
    digest = sources_digest(sources, float(teacher.spec.window_s), _encoder_id(teacher), captions)
    path = out / name
    if path.exists():
        cached = ConditionSet.load(path, digest)
        if cached is not None:
            return cached
    conditions = encode_conditions(teacher, sources, captions=captions, log=log)
    if int(os.environ.get("RANK", "0")) == 0:
        conditions.save(path, digest)
    return conditions


def _make_run_folder(out: Path) -> bool:
    """Create the run folder (ValueError, a usage error, when it cannot be); True if it is new."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: name a folder for the run")
    existed = out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot make the run folder {out}: {exc.strerror or exc}") from None
    return not existed


def run_distill(
    teacher: AudioModel | str | None,
    data: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    settings: DistillSettings = DistillSettings(),
    config: TrainConfig | None = None,
    device: str = "cpu",
    workers: int = 0,
    minutes: float | None = None,
    captions: bool = True,
    progress: Callable[[dict], None] | None = None,
    stop_after: int | None = None,
    session_deadline: float | None = None,
    student: AudioModel | str | None = None,
) -> Path:
    """Encode the data, train the student (resuming a run folder's checkpoint), export it.
    Returns the student's path (written once the steps or the time box are done);
    `session_deadline` or SIGTERM checkpoint and raise `TrainingStopped` (see `loop.train`).
    `student`: a model (file) in the teacher's latent space to start from instead of a copy of
    the teacher, e.g. the teacher converted into a flow map (`mfmjt train tiny-synth --stages
    continue --init TEACHER`)."""
    from mfmjt_core.training.loop import print_progress, train

    clock = time.monotonic()
    config = config or default_train_config()
    if config.changes_pictures:
        raise ValueError(NO_PICTURES)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if config.batch_size % world or (config.batch_size // world) % settings.group:
        raise ValueError(f"the batch per process ({config.batch_size} / {world}) must be a multiple of the "
                         f"trajectory group ({settings.group})")
    teacher_name = teacher if isinstance(teacher, str) or teacher is None else teacher.spec.name
    model = load_teacher(teacher, device=device) if not isinstance(teacher, AudioModel) else teacher
    # on the CPU: only its encoders visit the device (to read the data); train() places the copy
    start = load_teacher(student) if isinstance(student, str) else student
    if start is not None:
        check_student(model, start)
    start_digest = None if start is None else model_digest(start)
    out = Path(out_dir)
    _check_resume(out, start_digest)
    made = _make_run_folder(out)
    try:
        conditions = prepare_conditions(model.to(device), data, out, captions=captions)
        own = None
        if start is not None and not same_encoders(start, model):  # trained on: it reads its own features
            start.encoders.to(device)
            own = prepare_conditions(start, data, out, captions=captions, name=STUDENT_CONDITIONS_FILE)
            start.encoders.cpu()
    except BaseException:
        if made and not any(out.iterdir()):  # bad --data leaves no empty run folder behind
            out.rmdir()
        raise
    task = DistillTask(model, conditions, settings, seed=config.seed, student=start, student_conditions=own)
    if int(os.environ.get("RANK", "0")) == 0:
        (out / "run.json").write_text(json.dumps({
            "command": sys.orig_argv, "world_size": world, "teacher": teacher_name or "embedded",
            "student_from": None if start is None else str(student if isinstance(student, str) else start.spec.name),
            "student_digest": start_digest,
            "data": [str(d) for d in data], "rows": len(conditions),
            "settings": dataclasses.asdict(task.settings), "config": json.loads(config.to_json()),
        }, indent=1))
        # published networks are large: not copied; a teacher's jumps or guidance interval are
        # not a sampler a model file can name, so no file would replay them
        if model.spec.encoders.stores_weights and task.settings.path.is_uniform_euler:
            task.export_teacher(out / TEACHER_FILE)
    deadline = clock + minutes * 60 if minutes is not None else None
    return train(task, config, out, device=device, workers=workers, progress=progress or print_progress,
                 deadline=deadline, stop_after=stop_after, session_deadline=session_deadline)
