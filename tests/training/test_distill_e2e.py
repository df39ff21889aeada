"""`mfmjt distill` end to end: a model-file teacher through the command line (resume, torchrun),
and a published-layout bundle (tiny random weights) through the library; the students load and
generate at one and at four steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mfmjt_cli.entry import main
from mfmjt_core.model import AudioModel, SamplingDefaults, tiny_random_spec
from mfmjt_core.model.file import read_model
from mfmjt_core.pipeline.generator import Generator
from mfmjt_core.training.distill import PairMix
from mfmjt_core.training.distill_task import DistillSettings, default_train_config, run_distill
from mfmjt_core.training.train_config import apply_overrides

WINDOW = 2.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Two 2-s clips of the world (with caption sidecars), a clip too short for the window, a
    broken file, and a prompt list."""
    root = tmp_path_factory.mktemp("distill-data")
    videos = root / "videos"
    assert main(["synth", str(videos), "--split", "train", "-n", "2", "--size", "64",
                 "--duration", str(WINDOW)]) == 0
    short = root / "short"
    assert main(["synth", str(short), "--split", "train", "-n", "1", "--size", "48", "--duration", "1"]) == 0
    (short / "train_0.mp4").rename(videos / "short.mp4")
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video")
    prompts = root / "prompts.txt"
    prompts.write_text("# sounds for the panel\na glass ball bounces on a wooden floor\n\na machine hums\n")
    return {"videos": videos, "prompts": prompts, "clip": videos / "train_0.mp4"}


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory) -> Path:
    """A small flow-matching model file (random weights, every layer awake), guided by default."""
    spec = tiny_random_spec()
    net = dataclasses.replace(spec.network, sequence=spec.network.sequence.with_duration(WINDOW))
    spec = dataclasses.replace(spec, name="tiny-teacher", network=net, window_s=WINDOW, objective="fm",
                               defaults=SamplingDefaults(steps=6, guidance=2.0, rescale="plain", temperature=0.9))
    g = torch.Generator().manual_seed(0)
    model = AudioModel.create(spec, generator=g)
    with torch.no_grad():
        for p in model.net.parameters():
            if p.requires_grad and not p.any():
                p.normal_(0.0, 0.05, generator=g)
    return model.save(tmp_path_factory.mktemp("teacher") / "teacher.safetensors")


def _distill_args(teacher: Path, data: dict, out: Path, *extra: str) -> list[str]:
    return ["distill", str(teacher), "--data", str(data["videos"]), "--data", str(data["prompts"]),
            "--out", str(out), "--steps", "4", "--batch-size", "4", "--group", "2", "--threads", "1",
            "--set", "log_every=1", "--set", "checkpoint_every=2", *extra]


def test_model_file_teacher_from_the_command_line(teacher_file, data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_distill_args(teacher_file, data, out)) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.mp4" in err and "short.mp4" in err
    # 2 clips x (video, video + caption, caption) + 2 prompts
    assert json.loads((out / "run.json").read_text())["rows"] == 8
    assert "ETA" in err and "step 4/4" in err

    tensors, config = read_model(out / "model.safetensors")
    assert config["objective"] == "meanflow"
    assert config["defaults"] == {"steps": 1, "guidance": 1.0, "rescale": "plain", "temperature": 0.9,
                                  "text_temperature": 0.9}
    assert config["training"]["teacher_steps"] == 6 and config["training"]["teacher_guidance"] == 2.0
    teacher_tensors, _ = read_model(teacher_file)
    changed = [k for k in tensors if k.startswith("net.") and not torch.equal(tensors[k], teacher_tensors[k])]
    assert changed  # the network learned; the encoders are the teacher's
    assert all(torch.equal(tensors[k], teacher_tensors[k]) for k in tensors if k.startswith("encoders."))
    _, teacher_config = read_model(out / "teacher.safetensors")  # the teacher as it made the targets
    assert teacher_config["objective"] == "fm" and teacher_config["defaults"]["steps"] == 6

    generator = Generator.load(out / "model.safetensors")
    one = generator.generate(video=data["clip"], seed=1)
    four = generator.generate(video=data["clip"], seed=1, steps=4)
    text = generator.generate(prompt="a machine hums", duration=WINDOW, seed=1)
    assert text.audio.shape[-1] == int(WINDOW * 48_000)
    assert one.audio.shape == four.audio.shape and abs(one.audio.shape[-1] - WINDOW * 48_000) < 500  # 29.97 fps
    assert all(np.isfinite(r.audio).all() for r in (one, four, text))
    assert not np.allclose(one.audio, four.audio)


def test_resumed_run_equals_an_uninterrupted_one(teacher_file, data, tmp_path):
    config = apply_overrides(default_train_config(),
                             ["steps=4", "batch_size=4", "checkpoint_every=1", "log_every=1"])
    settings = DistillSettings(pairs=PairMix(steps=3), group=2)
    kwargs = {"settings": settings, "config": config, "progress": None}
    whole = run_distill(str(teacher_file), [str(data["videos"])], tmp_path / "whole", **kwargs)
    killed = run_distill(str(teacher_file), [str(data["videos"])], tmp_path / "resumed", stop_after=2, **kwargs)
    assert not killed.exists()  # stopped before the end: no export yet
    resumed = run_distill(str(teacher_file), [str(data["videos"])], tmp_path / "resumed", **kwargs)
    a, _ = read_model(whole)
    b, _ = read_model(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert len(losses) == 4  # steps 1-2 before the stop, 3-4 after the resume


def test_a_session_stops_with_a_checkpoint_and_the_same_command_continues(teacher_file, data, tmp_path):
    out = tmp_path / "run"
    assert main(_distill_args(teacher_file, data, out, "--session-minutes", "1e-6")) == 75
    assert (out / "train_state.pt").exists() and not (out / "model.safetensors").exists()
    assert main(_distill_args(teacher_file, data, out)) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == [1, 2, 3, 4] and (out / "model.safetensors").exists()


def test_two_processes_under_torchrun_match_one(teacher_file, data, tmp_path):
    from tests.scale.helpers import torchrun

    args = _distill_args(teacher_file, data, tmp_path / "ddp")[1:]
    torchrun(2, "-m", "mfmjt_cli", "distill", *args, timeout=300)
    assert main(_distill_args(teacher_file, data, tmp_path / "one")) == 0
    a, _ = read_model(tmp_path / "ddp" / "model.safetensors")
    b, _ = read_model(tmp_path / "one" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)


def test_bad_data_is_a_usage_error(teacher_file, tmp_path, capsys):
    assert main(["distill", str(teacher_file), "--data", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["distill", str(teacher_file), "--data", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 2
    assert "no videos and no prompts" in capsys.readouterr().err
    assert main(["distill", "no-such-model", "--data", str(tmp_path)]) == 4


def test_what_cannot_be_distilled_is_refused_in_one_line_and_leaves_no_run_folder(teacher_file, data, tmp_path, capsys):
    sound = tmp_path / "take.wav"
    sound.write_bytes(b"RIFF" + bytes(range(256)) * 64)  # not a prompt list, whatever its bytes decode to
    (tmp_path / "a-file").write_text("x")
    prompts = str(data["prompts"])
    cases = [
        (["--data", str(sound)], "neither a video"),
        (["--data", prompts, "--steps", "0"], "steps must be at least 1"),
        (["--data", prompts, "--batch-size", "-4"], "batch_size must be at least 1"),
        (["--data", prompts, "--guidance", "-3"], "--guidance: must be a number in [0, 100]"),
        (["--data", prompts, "--temperature", "nan"], "--temperature: must be a number in [0, 2]"),
        (["--data", prompts, "--out", str(tmp_path / "a-file")], "is a file: name a folder"),
    ]
    for args, words in cases:
        argv = ["distill", str(teacher_file), "--out", str(tmp_path / "run"), *args]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own refusals
            code = exc.code
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and words in lines[0], (args, lines)
        assert not (tmp_path / "run").exists(), args


def test_published_bundle_teacher(tmp_path, data):
    """A bundle in the published layout (tiny random weights) distils into a student whose file
    holds only the network and names the bundle for its encoders and codec."""
    from mfmjt_core.model.published import load_published
    from mfmjt_core.network.mmdit import MMDiT
    from tests.weights.tiny_bundle import SHAPES, write_tiny_bundle

    cache = tmp_path / "cache"
    write_tiny_bundle(cache)
    shapes = dataclasses.replace(SHAPES, network=dataclasses.replace(
        SHAPES.network, sequence=SHAPES.network.sequence.with_duration(WINDOW)))
    teacher = load_published("mmaudio-small-16k", cache=cache, shapes=shapes)
    teacher = AudioModel(dataclasses.replace(teacher.spec, window_s=WINDOW), teacher.encoders, teacher.net,
                         teacher.codec)
    assert teacher.spec.defaults.steps == 25 and teacher.spec.defaults.guidance == 4.5
    config = apply_overrides(default_train_config(), ["steps=3", "batch_size=4"])
    student_path = run_distill(teacher, [str(data["videos"]), str(data["prompts"])], tmp_path / "run",
                               settings=DistillSettings(pairs=PairMix(steps=4), group=2), config=config,
                               progress=None)
    assert not (tmp_path / "run" / "teacher.safetensors").exists()  # published networks are not copied
    tensors, config_dict = read_model(student_path)
    assert all(k.startswith("net.") for k in tensors)
    assert (config_dict["encoders"]["kind"], config_dict["encoders"]["bundle"]) == ("mmaudio", "mmaudio-small-16k")
    assert config_dict["training"]["teacher_guidance"] == 4.5 and config_dict["defaults"]["steps"] == 1
    assert not teacher.net.h_embed.mlp[2].weight.any()
    assert tensors["net.h_embed.mlp.2.weight"].any()  # the student learned interval widths

    net = MMDiT(teacher.net.config)
    net.load_state_dict({k[4:]: v for k, v in tensors.items()})
    from mfmjt_core.model import ModelSpec

    student = AudioModel(ModelSpec.from_dict(config_dict), teacher.encoders, net, teacher.codec)
    generator = Generator(student)
    for steps in (1, 4):
        result = generator.generate(video=data["clip"], seed=2, steps=steps, prompt="a machine hums")
        assert abs(result.audio.shape[-1] - WINDOW * 48_000) < 500 and np.isfinite(result.audio).all()


def _student_of(teacher_file: Path, path: Path, *, shift_latents: bool = False, seed: int = 5) -> Path:
    """The teacher trained on (as `--stages continue` does): its network and encoders moved."""
    model = AudioModel.load(teacher_file)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in [*model.net.named_parameters(), *model.encoders.named_parameters()]:
            if name not in ("latent_mean", "latent_std"):
                p.add_(0.01 * torch.randn(p.shape, generator=g))
        if shift_latents:
            model.net.latent_mean.add_(1.0)
    spec = dataclasses.replace(model.spec, name="tiny-converted", objective="meanflow")
    return AudioModel(spec, model.encoders, model.net, model.codec).save(path)


def test_a_meanflow_teacher_jumps_with_guidance_near_noise_only(teacher_file, data, tmp_path, capsys):
    """`--teacher-jumps 0.5 --guidance-above 0.5`: a MeanFlow teacher makes its targets in two
    jumps of its average velocity, the first guided; the student records the path and no teacher
    file is written (no sampler replays it). Wrong uses are usage errors."""
    fm = AudioModel.load(teacher_file)
    meanflow_file = AudioModel(dataclasses.replace(fm.spec, name="tiny-meanflow", objective="meanflow"),
                               fm.encoders, fm.net, fm.codec).save(tmp_path / "meanflow.safetensors")
    out = tmp_path / "run"
    jumps = ("--teacher-jumps", "0.5", "--guidance-above", "0.5")
    assert main(_distill_args(meanflow_file, data, out, *jumps)) == 0
    _, config = read_model(out / "model.safetensors")
    training = config["training"]
    assert training["teacher_times"] == [1.0, 0.5, 0.0] and training["teacher_average"] is True
    assert training["teacher_guided_above"] == 0.5 and training["teacher_steps"] == 2
    assert json.loads((out / "run.json").read_text())["settings"]["pairs"]["velocity"] == 0.0
    assert not (out / "teacher.safetensors").exists()
    Generator.load(out / "model.safetensors").generate(video=data["clip"], seed=1)

    capsys.readouterr()
    assert main(_distill_args(teacher_file, data, tmp_path / "fm", *jumps)) == 2
    assert "only a MeanFlow teacher" in capsys.readouterr().err
    assert main(_distill_args(meanflow_file, data, tmp_path / "v", *jumps, "--velocity", "0.2")) == 2
    assert "chords only" in capsys.readouterr().err
    assert main(_distill_args(meanflow_file, data, tmp_path / "s", *jumps, "--teacher-steps", "4")) == 2
    for bad in ("0.5,0.7", "1.2", "x"):
        with pytest.raises(SystemExit):
            main(_distill_args(meanflow_file, data, tmp_path / "bad", "--teacher-jumps", bad))


def test_a_student_file_starts_the_student_with_its_own_network_and_encoders(teacher_file, data, tmp_path):
    """`--student FILE` (e.g. the teacher converted into a flow map): the student starts as that
    file's network, keeps its encoders, and reads the rows through them."""
    student_file = _student_of(teacher_file, tmp_path / "converted.safetensors")
    out = tmp_path / "run"
    # lr 0: the exported student is exactly where it started
    assert main(_distill_args(teacher_file, data, out, "--student", str(student_file), "--lr", "0")) == 0
    tensors, config = read_model(out / "model.safetensors")
    start, _ = read_model(student_file)
    teacher, _ = read_model(teacher_file)
    assert tensors.keys() == start.keys() and all(torch.equal(tensors[k], start[k]) for k in tensors)
    assert any(not torch.equal(start[k], teacher[k]) for k in start if k.startswith("net."))  # not the teacher's
    assert config["training"]["distilled_from"] == "tiny-teacher"
    assert config["training"]["student_from"] == "tiny-converted"
    assert config["defaults"]["steps"] == 1 and config["defaults"]["rescale"] == "plain"

    teacher_rows, _ = read_model(out / "conditions.safetensors")
    own_rows, _ = read_model(out / "conditions-student.safetensors")
    assert torch.equal(teacher_rows["rows"], own_rows["rows"])
    for key in ("clip_f", "sync_f", "text_f"):  # its own encoders read them
        assert not torch.allclose(teacher_rows[key], own_rows[key])
    Generator.load(out / "model.safetensors").generate(video=data["clip"], seed=1)


def test_the_student_is_trained_on_its_own_features_and_the_teacher_targets_from_its_own(
        teacher_file, data, tmp_path, monkeypatch):
    """The loss gets each side's features of every row, with each network's learned empty
    features where a row has no video or no text."""
    from mfmjt_core.training import distill_task
    from mfmjt_core.training.distill_data import encode_conditions, list_sources
    from mfmjt_core.training.draws import draw

    teacher = AudioModel.load(teacher_file)
    student = AudioModel.load(_student_of(teacher_file, tmp_path / "converted.safetensors"))
    sources = list_sources([str(data["videos"]), str(data["prompts"])])
    theirs, own = (encode_conditions(m, sources, log=lambda line: None) for m in (teacher, student))
    task = distill_task.DistillTask(teacher, theirs, DistillSettings(pairs=PairMix(steps=3), group=1), seed=0,
                                    student=student, student_conditions=own)
    rows = list(range(len(own)))
    batch = task.batch(rows)
    assert (~batch["has_video"]).any() and (~batch["has_text"]).any() and (batch["has_video"] & batch["has_text"]).any()
    seen = {}
    real_teacher_trajectory = distill_task.teacher_trajectory

    def spy_trajectory(velocity, noise, cond, **kw):
        seen["teacher"] = cond
        return real_teacher_trajectory(velocity, noise, cond, **kw)

    def spy_loss(velocity, z_t, r, t, target, cond, **kw):
        seen["student"] = cond
        return torch.zeros(()), {}

    monkeypatch.setattr(distill_task, "teacher_trajectory", spy_trajectory)
    monkeypatch.setattr(distill_task, "distill_loss", spy_loss)
    draws = draw(rows, step=0, seed=0, shape=task.latent_shape(), objective=default_train_config().objective,
                 null_video=0.0, null_text=0.0)
    task.loss(task.model, task.model, batch, draws, default_train_config().objective)
    picks = [task._row(i) for i in rows]
    video, text = own.rows[picks].unbind(1)
    for side, conditions, net in (("student", own, task.model), ("teacher", theirs, teacher.net)):
        cond = seen[side]
        for i in range(len(rows)):
            if video[i] >= 0:
                assert torch.equal(cond["clip_f"][i], conditions.clip_f[video[i]])
                assert torch.equal(cond["sync_f"][i], conditions.sync_f[video[i]])
            else:
                assert torch.equal(cond["clip_f"][i], net.empty_clip_feat.expand_as(cond["clip_f"])[i])
            if text[i] >= 0:
                assert torch.equal(cond["text_f"][i], conditions.text_f[text[i]])
            else:
                assert torch.equal(cond["text_f"][i], net.empty_string_feat.expand_as(cond["text_f"])[i])
    assert not torch.equal(task.model.empty_clip_feat, teacher.net.empty_clip_feat)


def test_a_student_file_with_the_teachers_encoders_reads_the_teachers_features(teacher_file, data, tmp_path):
    model = AudioModel.load(_student_of(teacher_file, tmp_path / "moved.safetensors"))
    model = AudioModel(model.spec, AudioModel.load(teacher_file).encoders, model.net, model.codec)
    student_file = model.save(tmp_path / "same-encoders.safetensors")
    out = tmp_path / "run"
    assert main(_distill_args(teacher_file, data, out, "--student", str(student_file))) == 0
    assert not (out / "conditions-student.safetensors").exists()


def test_a_run_folder_resumes_only_from_the_student_it_began_with(teacher_file, data, tmp_path, capsys):
    student_file = _student_of(teacher_file, tmp_path / "converted.safetensors")
    out = tmp_path / "run"
    args = _distill_args(teacher_file, data, out, "--student", str(student_file))
    assert main([*args, "--session-minutes", "1e-6"]) == 75
    other = _student_of(teacher_file, tmp_path / "changed.safetensors", seed=6)
    for wrong in (_distill_args(teacher_file, data, out),
                  _distill_args(teacher_file, data, out, "--student", str(other))):
        assert main(wrong) == 2
        assert "give the same --student, or a new --out" in capsys.readouterr().err
    assert main(args) == 0 and (out / "model.safetensors").exists()


def test_a_student_in_another_latent_space_is_a_usage_error(teacher_file, data, tmp_path, capsys):
    student_file = _student_of(teacher_file, tmp_path / "other.safetensors", shift_latents=True)
    assert main(_distill_args(teacher_file, data, tmp_path / "run", "--student", str(student_file))) == 2
    assert "does not fit the teacher" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any work


def test_student_and_exported_teacher_keep_the_teachers_spectrum_median(teacher_file, data, tmp_path):
    from mfmjt_core.training.distill_data import encode_conditions, list_sources
    from mfmjt_core.training.distill_task import DistillTask

    teacher = AudioModel.load(teacher_file)
    defaults = dataclasses.replace(teacher.spec.defaults, median_frames=3, text_median_frames=1)
    teacher = AudioModel(dataclasses.replace(teacher.spec, defaults=defaults), teacher.encoders, teacher.net,
                         teacher.codec)
    conditions = encode_conditions(teacher, list_sources([str(data["prompts"])]), log=lambda line: None)
    task = DistillTask(teacher, conditions, DistillSettings(group=1), seed=0)
    student = task.student_spec().defaults
    assert (student.steps, student.guidance, student.median_frames, student.text_median_frames) == (1, 1.0, 3, 1)
    _, config = read_model(task.export_teacher(tmp_path / "teacher.safetensors"))
    assert config["defaults"]["median_frames"] == 3 and config["defaults"]["text_median_frames"] == 1


def test_prompt_only_trajectories_use_the_teachers_prompt_only_guidance_and_temperature(
        teacher_file, data, tmp_path, monkeypatch):
    """As the product samples a prompt alone (its own scale and temperature), so does the teacher
    for rows without a picture; the student keeps that temperature for prompt-only requests."""
    from mfmjt_core.training import distill_task
    from mfmjt_core.training.distill_data import encode_conditions, list_sources
    from mfmjt_core.training.draws import draw

    teacher = AudioModel.load(teacher_file)  # picture: plain 2.0 at 0.9
    defaults = dataclasses.replace(teacher.spec.defaults, text_guidance=3.0, text_temperature=1.0)
    teacher = AudioModel(dataclasses.replace(teacher.spec, defaults=defaults), teacher.encoders, teacher.net,
                         teacher.codec)
    conditions = encode_conditions(teacher, list_sources([str(data["videos"]), str(data["prompts"])]),
                                   log=lambda line: None)
    task = distill_task.DistillTask(teacher, conditions, DistillSettings(pairs=PairMix(steps=2), group=1), seed=0)
    seen = {}

    def spy(velocity, noise, cond, *, path, guidance):
        seen.update(noise=noise, scale=guidance.scale)
        return torch.zeros(path.steps + 1, *noise.shape), torch.zeros(path.steps, *noise.shape)

    monkeypatch.setattr(distill_task, "teacher_trajectory", spy)
    rows = list(range(len(conditions)))
    batch = task.batch(rows)
    draws = draw(rows, step=0, seed=0, shape=task.latent_shape(), objective=default_train_config().objective,
                 null_video=0.0, null_text=0.0)
    task.loss(task.model, task.model, batch, draws, default_train_config().objective)
    picture = batch["has_video"]
    assert picture.any() and (~picture).any()
    scale = seen["scale"].flatten()
    assert torch.equal(scale[picture], torch.full((int(picture.sum()),), 2.0))
    assert torch.equal(scale[~picture], torch.full((int((~picture).sum()),), 3.0))
    torch.testing.assert_close(seen["noise"][picture], 0.9 * draws.noise[picture])
    torch.testing.assert_close(seen["noise"][~picture], 1.0 * draws.noise[~picture])
    student = task.student_spec().defaults
    assert (student.guidance, student.temperature, student.text_temperature) == (1.0, 0.9, 1.0)
    assert student.guidance_for(False) == 1.0  # the student's guidance is learned, prompt only too
