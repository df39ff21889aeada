"""`mfmjt distill TEACHER --data DIR`: a one-step (and few-step) student from a flow model.

TEACHER is `embedded` (the shipped model), one of our model files, or a published bundle name
(`mmaudio-small-16k` ..., after `mfmjt fetch`). The data are conditions only: folders of the
user's videos and/or prompt lists. Runs alone or under torchrun (`torchrun --nproc_per_node 8
-m mfmjt_cli distill mmaudio-small-16k --data clips/ --device cuda`); a rerun with the same
--out resumes from the last checkpoint. See docs/training.md, "Distillation".
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "distill"
HELP = "distill a flow-matching model (embedded, a model file or a published bundle) into a one-step student"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mfmjt_cli.arg_types import option_type  # a request's bounds: a scale no request could use is refused
    from mfmjt_schema.fields import field

    parser.add_argument("teacher", help="embedded, a model file (.safetensors), or a bundle name "
                                         "(mmaudio-small-16k ...)")
    parser.add_argument("--data", action="append", required=True, metavar="PATH",
                        help="a folder of videos (sidecar captions are used), a video, or a prompt list "
                             "(.txt, one per line); repeat to combine")
    parser.add_argument("--out", help="run folder (default runs/distill-TEACHER); the student is "
                                      "OUT/model.safetensors")
    parser.add_argument("--device", default="cpu", help="cpu, cuda ... (default cpu)")
    parser.add_argument("--steps", type=int, help="training steps (default 2000)")
    parser.add_argument("--batch-size", type=int, help="global batch (default 16)")
    parser.add_argument("--lr", type=float, help="learning rate (default 3e-4)")
    parser.add_argument("--minutes", type=float, help="time box: stop early and export")
    parser.add_argument("--session-minutes", type=float, metavar="MIN",
                        help="stop after MIN minutes with a checkpoint and exit status 75 (as on SIGTERM); "
                             "the same command again continues exactly where it stopped")
    parser.add_argument("--teacher-steps", type=int,
                        help="Euler steps of the teacher's solutions (default: its own, or 25)")
    parser.add_argument("--teacher-jumps", type=_times, metavar="T[,T...]",
                        help="a MeanFlow teacher jumps with its average velocity from 1 through these times to 0 "
                             "(e.g. 0.95: two jumps) instead of Euler steps; its chords are the targets")
    parser.add_argument("--guidance-above", type=float, default=0.0, metavar="T",
                        help="the teacher's guidance only on its steps that start above time T (e.g. 0.9: near "
                             "noise only; default 0: every step)")
    parser.add_argument("--guidance", type=option_type(field("guidance")),
                        help="teacher's guidance scale (default: its own; 1 = none)")
    parser.add_argument("--text-guidance", type=option_type(field("guidance")),
                        help="teacher's guidance scale for rows without a picture (default: its own prompt-only "
                             "scale, else --guidance)")
    parser.add_argument("--text-temperature", type=option_type(field("temperature")),
                        help="starting-noise scale of rows without a picture, also the student's prompt-only "
                             "default (default: the teacher's own, else --temperature)")
    parser.add_argument("--rescale", help="teacher's guidance mode: plain, zero_star, std, none (default: its own)")
    parser.add_argument("--temperature", type=option_type(field("temperature")),
                        help="scale of the starting noise, also the student's default (default: the teacher's)")
    parser.add_argument("--group", type=int, default=4,
                        help="rows sharing one teacher trajectory (default 4; the batch per process must "
                             "be a multiple)")
    parser.add_argument("--one-step", type=float, default=0.5,
                        help="share of rows on the whole interval (default 0.5)")
    parser.add_argument("--velocity", type=float,
                        help="share of rows learning the teacher's velocity, r = t (default 0.15; 0 with "
                             "--teacher-jumps)")
    parser.add_argument("--student", metavar="FILE",
                        help="start the student from this model file instead of a copy of the teacher: one in "
                             "the teacher's latent space, e.g. the teacher converted into a flow map by "
                             "`mfmjt train tiny-synth --stages continue --init TEACHER`")
    parser.add_argument("--no-captions", action="store_true", help="ignore sidecar captions of the videos")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a training config field, e.g. optim.ema_decay=0.999")
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes (default 0)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def _times(text: str) -> tuple[float, ...]:
    try:
        times = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"times are numbers separated by commas: {text!r}") from None
    if any(not 0.0 < t < 1.0 for t in times) or any(a <= b for a, b in zip(times, times[1:])):
        raise argparse.ArgumentTypeError(f"times must fall from below 1 to above 0: {text!r}")
    return times


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from mfmjt_core.training.loop import EXIT_RESUMABLE, StopRequest, TrainingStopped

    session_deadline = time.monotonic() + args.session_minutes * 60 if args.session_minutes else None
    try:
        with StopRequest():  # SIGTERM at any point of the run: checkpoint, exit 75
            return _run(args, session_deadline)
    except TrainingStopped as stopped:
        print(f"{stopped}; run the same command again to continue", file=sys.stderr)
        return EXIT_RESUMABLE


def _run(args: argparse.Namespace, session_deadline: float | None) -> int:
    import os

    from mfmjt_core.training.distill import PairMix, TeacherPath
    from mfmjt_core.training.distill_data import DistillDataError
    from mfmjt_core.training.distill_task import (
        DistillSettings,
        default_train_config,
        load_teacher,
        run_distill,
        teacher_steps_default,
    )
    from mfmjt_core.training.train_config import apply_overrides

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    overrides = list(args.set)
    for flag, key in ((args.steps, "steps"), (args.batch_size, "batch_size"), (args.lr, "optim.lr")):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    try:
        config = apply_overrides(default_train_config(), overrides)
    except ValueError as exc:
        raise DistillDataError(str(exc)) from exc
    teacher = load_teacher(args.teacher, device=args.device)
    try:
        if args.teacher_jumps:
            if args.teacher_steps:
                raise ValueError("--teacher-jumps sets the teacher's steps; leave out --teacher-steps")
            path = TeacherPath((1.0, *args.teacher_jumps, 0.0), average=True, guided_above=args.guidance_above)
        else:
            path = TeacherPath.uniform(args.teacher_steps or teacher_steps_default(teacher),
                                       guided_above=args.guidance_above)
        velocity = args.velocity if args.velocity is not None else (0.0 if path.average else 0.15)
        settings = DistillSettings(
            pairs=PairMix(steps=path.steps, one_step=args.one_step, velocity=velocity), path=path,
            guidance=args.guidance, rescale=args.rescale, temperature=args.temperature, group=args.group,
            text_guidance=args.text_guidance, text_temperature=args.text_temperature)
        name = Path(args.teacher).stem if args.teacher.endswith(".safetensors") else args.teacher
        student = run_distill(teacher, args.data, Path(args.out or f"runs/distill-{name}"), settings=settings,
                              config=config, device=args.device, workers=args.workers, minutes=args.minutes,
                              captions=not args.no_captions, session_deadline=session_deadline,
                              student=args.student)
    except ValueError as exc:
        raise DistillDataError(str(exc)) from exc
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"student: {student}")
    return 0
