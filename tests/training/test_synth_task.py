"""Training on the synthetic world: a smoke run of the real task, the alignment probes, resuming."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mfmjt_core.model import AudioModel
from mfmjt_core.training.draws import draw
from mfmjt_core.training.loop import train
from mfmjt_core.training.probes import AlignmentProbes, ProbeConfig, pool_time, resample_time
from mfmjt_core.training.recipes import tiny_synth_spec
from mfmjt_core.training.synth_task import SynthTask
from mfmjt_core.training.train_config import ObjectiveConfig, OptimConfig, TrainConfig


def _spec():
    spec = tiny_synth_spec()
    # the embedded model's layout; 2 s windows keep the smoke run fast
    net = dataclasses.replace(spec.network, sequence=spec.network.sequence.with_duration(2.0))
    return dataclasses.replace(spec, network=net, window_s=2.0)


def _world():
    from mfmjt_core.synth.world import WorldConfig

    return WorldConfig(duration_s=2.0)


def _task(frame_noise: float = 0.003, picture_augment: float = 0.0, neutral_looks: float = 0.0) -> SynthTask:
    model = AudioModel.create(_spec(), generator=torch.Generator().manual_seed(0))
    return SynthTask(model, world_config=_world(), frame_noise=frame_noise, picture_augment=picture_augment,
                     neutral_looks=neutral_looks)


def test_picture_augment_gives_each_row_one_look_at_both_rates_and_again_on_resume():
    """A row's jitter is drawn from its own index: the same on a rerun (exact resume) and in
    another batch, and one for the clip, so the 8 and 25 fps streams show the same picture."""
    task, plain = _task(0.0, picture_augment=1.0), _task(0.0)
    a, again, alone = task.batch([0, 1]), task.batch([0, 1]), task.batch([1])
    assert torch.equal(a["frames8"], again["frames8"]) and torch.equal(a["frames25"], again["frames25"])
    assert torch.equal(a["frames8"][1], alone["frames8"][0])
    for row in range(2):
        assert not torch.allclose(a["frames8"][row], plain.batch([row])["frames8"][0], atol=1e-3)
        for second in (0, 1):  # the same instant in both streams is the same jittered frame
            assert torch.equal(a["frames8"][row, 8 * second], a["frames25"][row, 25 * second])
    assert torch.equal(a["latent"], plain.batch([0, 1])["latent"])  # the sound is not touched


def test_neutral_looks_draw_a_share_of_rows_from_their_index_and_change_only_the_picture():
    """Rows with neutral looks show the clip re-drawn by `neutral_frames`; which rows is drawn from
    the row's index (the same on a resume and in another batch); sound and caption stay."""
    from mfmjt_core.synth.world import neutral_frames

    rows = list(range(24))
    task, plain, every = _task(0.0, neutral_looks=0.5), _task(0.0), _task(0.0, neutral_looks=1.0)
    a, b = task.batch(rows), plain.batch(rows)
    changed = [not torch.equal(a["frames25"][i], b["frames25"][i]) for i in rows]
    assert 6 <= sum(changed) <= 18, changed
    assert torch.equal(a["frames25"], task.batch(rows)["frames25"])
    assert torch.equal(a["frames25"][5], task.batch([5])["frames25"][0])
    assert torch.equal(a["latent"], b["latent"]) and a["captions"] == b["captions"]
    clip = every.clip(3)
    redrawn = _task(0.0)
    redrawn.clip = lambda index: dataclasses.replace(clip, frames=neutral_frames(clip))
    assert torch.equal(every.batch([3])["frames25"], redrawn.batch([0])["frames25"])
    with pytest.raises(ValueError, match="neutral_looks is a share of rows"):
        _task(neutral_looks=1.5)


def test_time_resampling_helpers():
    x = torch.arange(8.0).view(1, 8, 1)
    assert torch.equal(pool_time(x, 4).flatten(), torch.tensor([0.5, 2.5, 4.5, 6.5]))
    up = resample_time(torch.tensor([[[0.0], [2.0]]]), 4).flatten()  # instants 0.25 .. 1.75 of 2 tokens
    assert torch.allclose(up, torch.tensor([0.0, 0.5, 1.5, 2.0]))


def test_probes_learn_what_the_features_say():
    """A sync probe fits a latent that is a per-instant function of the features; a shuffled one it cannot."""
    g = torch.Generator().manual_seed(0)
    cfg = ProbeConfig(clip_dim=4, sync_dim=6, text_dim=5, latent_dim=3)
    sync = torch.randn(8, 20, 6, generator=g)
    mix = torch.randn(6, 3, generator=g)
    latent = sync @ mix  # same length: the probe sees each instant's own features
    clip, text = torch.randn(8, 5, 4, generator=g), torch.randn(8, 7, 5, generator=g)

    def fit(target):
        probes = AlignmentProbes(cfg)
        opt = torch.optim.Adam(probes.parameters(), lr=3e-2)
        for _ in range(300):
            loss, stats = probes(target, clip_f=clip, sync_f=sync, text_f=text)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return stats["probe_sync"]

    aligned = fit(latent)
    shuffled = fit(latent[:, torch.randperm(20, generator=g)])
    assert aligned < 0.05 * latent.var().item()
    assert shuffled > 10 * aligned


def test_batches_are_deterministic_and_noise_is_faint():
    task, clean = _task(), _task(frame_noise=0.0)
    a, b, c = task.batch([3, 4]), task.batch([3, 4]), clean.batch([3, 4])
    assert torch.equal(a["frames25"], b["frames25"]) and torch.equal(a["latent"], b["latent"])
    assert a["frames8"].shape == (2, 16, 32, 32, 3) and a["frames25"].shape == (2, 50, 32, 32, 3)
    diff = (a["frames25"] - c["frames25"]).abs()
    assert 0.001 < diff.mean().item() < 0.004
    assert a["captions"] == c["captions"]


def test_probe_weight_adds_the_probe_loss():
    task = _task()
    batch = task.batch([0, 1])
    kw = dict(step=0, seed=0, shape=task.latent_shape(), null_video=0.0, null_text=0.0)
    plain = ObjectiveConfig(kind="fm")
    probed = dataclasses.replace(plain, probe_weight=0.5)
    draws = draw([0, 1], objective=plain, **kw)
    loss0, stats0 = task.loss(task.model, task.model, batch, draws, plain)
    loss1, stats1 = task.loss(task.model, task.model, batch, draws, probed)
    assert "probe_sync" not in stats0 and {"probe_sync", "probe_clip", "probe_text"} <= set(stats1)
    probe = (stats1["probe_sync"] + stats1["probe_clip"] + stats1["probe_text"]) / 3
    assert loss1.item() == pytest.approx(loss0.item() + 0.5 * probe, rel=1e-5)
    loss1.backward()
    assert task.auxiliary.sync.weight.grad is not None
    assert task.model.encoders.motion.temporal[0].weight.grad.abs().sum() > 0


def test_folded_guidance_guides_rows_with_any_condition_left():
    task = _task()
    batch = task.batch([0, 1, 2])
    plain = ObjectiveConfig(kind="meanflow", equal_fraction=0.5)
    guided = dataclasses.replace(plain, omega=0.75, kappa=0.5)

    def losses(null_video: float, null_text: float) -> tuple[float, float]:
        draws = draw([0, 1, 2], step=0, seed=0, shape=task.latent_shape(), objective=plain,
                     null_video=null_video, null_text=null_text)
        return tuple(task.loss(task.model, task.model, batch, draws, o)[1]["raw_mse"] for o in (plain, guided))

    # video-only requests (text dropped) are guided too, not only rows that kept everything
    for null_video, null_text in ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0)):
        without, folded = losses(null_video, null_text)
        assert folded != pytest.approx(without, rel=1e-4)
    # rows left with no condition are the unconditional model: their target stays plain v
    without, folded = losses(1.0, 1.0)
    assert folded == pytest.approx(without, rel=1e-6)


@pytest.mark.timeout(240)
def test_smoke_training_lowers_the_loss_and_resumes(tmp_path):
    """A few real steps of the tiny-synth task; probes go into the training state, not the export."""
    config = TrainConfig(
        steps=24, batch_size=4, seed=0, null_video=0.2, null_text=0.5,
        objective=ObjectiveConfig(kind="fm", probe_weight=0.5),
        optim=OptimConfig(lr=2e-3, warmup_steps=2, decay="constant", ema_decay=0.9),
        log_every=4, checkpoint_every=12,
    )
    task = _task()
    # the same 4 clips every step, so the loss can only fall by fitting them
    task.clip = lambda index, _clip=task.clip: _clip(index % 4)
    records = []
    train(task, config, tmp_path, resume=False, progress=records.append, stop_after=12)
    state = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert state["step"] == 12 and "auxiliary" in state
    resumed = _task()
    resumed.clip = task.clip
    path = train(resumed, config, tmp_path, progress=records.append)
    assert records[-1]["step"] == 24
    first, last = records[0], records[-1]
    assert last["probe_sync"] < first["probe_sync"]
    assert last["raw_mse"] < first["raw_mse"]
    exported = AudioModel.load(path)
    assert not any("probe" in k or k.startswith("sync.") for k in exported.state_dict())


def test_stages_start_from_the_main_stage_before_them(tmp_path):
    from mfmjt_core.training.recipes import TINY_SYNTH, _source_stage, run_recipe

    names = {s.name: s for s in TINY_SYNTH.stages}
    assert _source_stage(TINY_SYNTH, names["fm"]) is None
    assert _source_stage(TINY_SYNTH, names["meanflow"]) == "fm"
    assert _source_stage(TINY_SYNTH, names["fm-baseline"]) == "fm"
    # a later stage alone never silently starts from scratch
    with pytest.raises(FileNotFoundError, match="run stage fm first"):
        run_recipe(TINY_SYNTH, tmp_path, stages=["meanflow"], progress=None)


@pytest.mark.timeout(300)
def test_recipe_runs_its_stages_and_carries_the_probes(tmp_path):
    """`mfmjt train tiny-synth` in miniature: two steps per stage, the real spec and world."""
    from safetensors.torch import load_file, save_file

    from mfmjt_core.training.recipes import PROBES_FILE, TINY_SYNTH, run_recipe

    small = {"all": ["steps=2", "batch_size=2", "log_every=1", "checkpoint_every=1", "optim.warmup_steps=1"]}
    run_recipe(TINY_SYNTH, tmp_path, overrides=small, progress=None, stages=["fm"])
    fm_probes = load_file(tmp_path / "fm" / PROBES_FILE)
    marked = {k: torch.full_like(v, 0.125) for k, v in fm_probes.items()}
    save_file(marked, tmp_path / "fm" / PROBES_FILE)
    path = run_recipe(TINY_SYNTH, tmp_path, overrides=small, progress=None, stages=["meanflow"])
    assert path == tmp_path / "meanflow" / "model.safetensors"
    model = AudioModel.load(path)
    assert model.spec.objective == "meanflow" and model.spec.training["stage"] == "meanflow"
    # the MeanFlow stage's probes continued from the flow-matching stage's file: two small steps away
    for key, value in load_file(tmp_path / "meanflow" / PROBES_FILE).items():
        assert (value - 0.125).abs().max() < 0.01, key


def test_rows_read_user_prompts_by_the_mix_and_the_same_row_reads_the_same_text():
    from mfmjt_core.synth.prompts import PromptMix

    model = AudioModel.create(_spec(), generator=torch.Generator().manual_seed(0))
    task = SynthTask(model, world_config=_world(), prompts=PromptMix(user=0.6, filler=0.2, foreign=0.1))
    rows = list(range(40))
    captions = [task.clip(i).caption for i in rows]
    texts = task.batch(rows)["captions"]
    assert texts == task.batch(rows)["captions"]  # a row's text is a function of its index
    kept = sum(t == c for t, c in zip(texts, captions))
    assert 0 < kept < 12  # 10% expected to keep the template
    plain = SynthTask(model, world_config=_world())
    assert plain.batch(rows[:8])["captions"] == captions[:8]
