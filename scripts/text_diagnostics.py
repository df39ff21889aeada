"""How much does a model listen to the caption? Measures on clips of the synthetic world.

    python scripts/text_diagnostics.py [--model FILE] [--clips 32] [--split val] [--phrasing user] [--json OUT]

For each clip the one-step output (normalised latent, fixed noise per clip) is compared:

- swap text: same video, another clip's caption (video + text requests);
- swap video: same caption, another clip's video;
- text only, swap text: no video, another clip's caption (what text-to-audio depends on);
- text only vs empty: no video, the caption against the empty caption.

RMS of each difference, next to the RMS of the output itself. The clip-spectrum R^2 is given
for the one-step output and for the network's conditional-mean estimate z - v(z, t=1), which
does not depend on how well the one-step map is learned. A model that reads the caption
changes its text-only output about as much as a swapped video changes a video request. The
pooled text features (raw and after the network's projection) show whether captions reach the
network as distinct vectors. Text-to-audio material accuracy: the text-only output decoded to
audio, the evaluation's material classifier at the reference impact times (chance 0.25), and
the material it sounds like at its own onsets ("heard", with its chance level).

Named materials: prompts that name one material each ("a glass ball bounces on a stone floor"),
generated as users get them (the model's defaults, several seeds), and the material each take
sounds like; the share heard as the named one (chance 0.25) shows whether the words reach the
timbre, not only the overall spectrum.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def _rms(x: torch.Tensor) -> float:
    return float(x.pow(2).mean().sqrt())


def _one_step(model, noise, cond) -> torch.Tensor:
    from mfmjt_core.network.adapter import AverageVelocity

    u = AverageVelocity(model.net, model.spec.network.time_convention)
    b = noise.shape[0]
    one, zero = torch.ones(b), torch.zeros(b)
    return noise - u(noise, zero, one, **cond)


def _mean_estimate(model, noise, cond) -> torch.Tensor:
    """The network's estimate of E[x | conditions]: z - v(z, t=1), its instantaneous velocity at
    pure noise (r = t = 1). It does not depend on how well the one-step map is learned, so it
    tells whether a condition reaches the network at all."""
    from mfmjt_core.network.adapter import AverageVelocity

    u = AverageVelocity(model.net, model.spec.network.time_convention)
    one = torch.ones(noise.shape[0])
    return noise - u(noise, one, one, **cond)


def _batch(task, seeds, phrasing: str = "template"):
    """The clips' batch; with phrasing "user" each caption is replaced by a user-style prompt
    for the same clip (`synth/prompts.py`, seeded by the clip)."""
    from mfmjt_core.synth.prompts import user_prompt
    from mfmjt_core.synth.world import make_clip

    clips = {i: make_clip(s, config=task.world) for i, s in enumerate(seeds)}
    task.clip = lambda index: clips[index]
    batch = task.batch(list(range(len(seeds))))
    if phrasing == "user":
        batch["captions"] = [user_prompt(c.scene, c.events, np.random.default_rng(c.seed)) for c in clips.values()]
    return batch, list(clips.values())


@torch.no_grad()
def diagnose(model_path: str | None, clips: int, split: str, start: int, classifier=None,
             phrasing: str = "template") -> dict:
    """The measures above; the material accuracies only with a material classifier."""
    from mfmjt_core.model import AudioModel
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL
    from mfmjt_core.synth.world import split_seeds
    from mfmjt_core.training.synth_task import SynthTask

    path = Path(model_path) if model_path else EMBEDDED_MODEL
    model = AudioModel.load(path).eval()
    task = SynthTask(model)
    batch, clip_list = _batch(task, split_seeds(split, clips, start=start), phrasing)
    f = task.features(batch)
    net = model.net
    b = clips
    empty = net.empty_conditions(b, f["clip_f"].shape[1], f["sync_f"].shape[1])
    perm = torch.roll(torch.arange(b), 1)  # each clip gets its neighbour's caption or video
    g = torch.Generator().manual_seed(1234)
    noise = torch.randn(b, *task.latent_shape(), generator=g)

    def cond(video_from=None, text_from=None):
        c = {}
        if video_from is None:
            c["clip_f"], c["sync_f"] = empty["clip_f"], empty["sync_f"]
        else:
            c["clip_f"], c["sync_f"] = f["clip_f"][video_from], f["sync_f"][video_from]
        c["text_f"] = empty["text_f"] if text_from is None else f["text_f"][text_from]
        return c

    idx = torch.arange(b)
    both = _one_step(model, noise, cond(idx, idx))
    text_only = _one_step(model, noise, cond(None, idx))
    out = {
        "model": str(path),
        "clips": b,
        "split": split,
        "phrasing": phrasing,
        "rms_output": _rms(both),
        "rms_swap_text": _rms(both - _one_step(model, noise, cond(idx, perm))),
        "rms_swap_video": _rms(both - _one_step(model, noise, cond(perm, idx))),
        "rms_text_only_swap_text": _rms(text_only - _one_step(model, noise, cond(None, perm))),
        "rms_text_only_vs_empty": _rms(text_only - _one_step(model, noise, cond(None, None))),
        "rms_video_only_vs_unconditional": _rms(
            _one_step(model, noise, cond(idx, None)) - _one_step(model, noise, cond(None, None))),
    }
    # Do captions arrive as distinct vectors? Mean cosine between different clips' pooled features.
    raw = f["text_f"].mean(dim=1)
    projected = net.project_conditions(f["clip_f"], f["sync_f"], f["text_f"], noise.shape[1]).text_f_c
    for name, v in (("raw", raw), ("projected", projected)):
        v = torch.nn.functional.normalize(v - v.mean(0, keepdim=True), dim=-1)
        sim = v @ v.T
        off = sim[~torch.eye(b, dtype=torch.bool)]
        out[f"text_{name}_centred_cosine_mean"] = float(off.mean())
        out[f"text_{name}_spread_rms"] = _rms(raw - raw.mean(0)) if name == "raw" else _rms(
            projected - projected.mean(0))
    out["clip_projected_spread_rms"] = _rms(
        net.project_conditions(f["clip_f"], f["sync_f"], f["text_f"], noise.shape[1]).clip_f_c
        - net.project_conditions(f["clip_f"], f["sync_f"], f["text_f"], noise.shape[1]).clip_f_c.mean(0))
    # How much of each clip's overall spectrum (its time-averaged latent) an output gets right,
    # against how much a caption could say: a ridge fit from the caption's words on train clips.
    target = net.normalize(batch["latent"]).mean(dim=1)
    spread = float((target - target.mean(0)).pow(2).mean())
    for name, latent in (("text_only", text_only), ("video_only", _one_step(model, noise, cond(idx, None))),
                         ("unconditional", _one_step(model, noise, cond(None, None)))):
        err = float((latent.mean(dim=1) - target).pow(2).mean())
        out[f"clip_spectrum_r2_{name}"] = 1 - err / spread
    # The same for the network's conditional-mean estimate (one sample scatters by its own
    # spread: a perfect sampler scores 1 - 2 (1 - ceiling), the conditional mean the ceiling).
    for name, c in (("text_only", cond(None, idx)), ("video_only", cond(idx, None)),
                    ("unconditional", cond(None, None))):
        err = float((_mean_estimate(model, noise, c).mean(dim=1) - target).pow(2).mean())
        out[f"clip_spectrum_r2_{name}_mean_estimate"] = 1 - err / spread
    out.update(_caption_ceiling(task, clip_list, target, net))
    if classifier is not None:
        out.update(_material_accuracy(model, text_only, both, clip_list, classifier))
    return out


def _caption_ceiling(task, clip_list, target: torch.Tensor, net, train_clips: int = 256) -> dict:
    """R^2 of the clips' time-averaged latents predicted by ridge regressions fitted on train-split
    clips, from the captions' bag of words (what a caption can tell about the spectrum) and from
    the text encoder's pooled features (what of it reaches the network)."""
    from mfmjt_core.synth.world import make_clip, split_seeds

    train = [make_clip(s, config=task.world, with_frames=False) for s in split_seeds("train", train_clips,
                                                                                   start=500_000)]
    words = sorted({w for c in train for w in c.caption.lower().replace(",", " ").split()})
    index = {w: i for i, w in enumerate(words)}

    def bag(captions):
        x = np.zeros((len(captions), len(words) + 1), dtype=np.float64)
        x[:, -1] = 1.0
        for row, caption in enumerate(captions):
            for w in caption.lower().replace(",", " ").split():
                if w in index:
                    x[row, index[w]] += 1.0
        return x

    with torch.no_grad():
        y = torch.stack([net.normalize(task.codec.encode(torch.from_numpy(c.audio)[None])[:, : task.num_latents])[0]
                         .mean(dim=0) for c in train]).double().numpy()
    t = target.double().numpy()

    def r2(x_train, x_test, ridge):
        w = np.linalg.solve(x_train.T @ x_train + ridge * np.eye(x_train.shape[1]), x_train.T @ y)
        return float(1 - ((x_test @ w - t) ** 2).mean() / ((t - t.mean(0)) ** 2).mean())

    def pooled(captions):  # the text encoder's features as the network pools them (plus a bias)
        with torch.no_grad():
            f = task.model.encoders.encode_text(captions).mean(dim=1).double().numpy()
        return np.concatenate([f, np.ones((len(f), 1))], axis=1)

    return {
        "clip_spectrum_r2_caption_words_ridge": r2(bag([c.caption for c in train]),
                                                   bag([c.caption for c in clip_list]), 1.0),
        "clip_spectrum_r2_pooled_text_features_ridge": r2(pooled([c.caption for c in train]),
                                                          pooled([c.caption for c in clip_list]), 1e-3),
    }


def _material_accuracy(model, text_only, both, clip_list, classifier) -> dict:
    from mfmjt_core.evaluation.scoring import ClipTruth, heard_material_accuracy, heard_material_chance, score_clip

    result = {}
    for name, latent in (("text_only", text_only), ("video_and_text", both)):
        audio = model.codec.decode(model.net.unnormalize(latent)).numpy()
        scores = [score_clip(a, ClipTruth.of(clip), classifier) for a, clip in zip(audio, clip_list)]
        total = sum(s.material_total for s in scores)
        result[f"material_accuracy_{name}"] = sum(s.material_correct for s in scores) / max(1, total)
        result[f"heard_material_accuracy_{name}"] = heard_material_accuracy(scores)
        result[f"heard_material_chance_{name}"] = heard_material_chance(scores)
    return result


def named_materials(model_path: str | None, seeds: int, classifier) -> dict:
    """Prompt-only takes of "a <material> ball bounces on a stone floor" with the model's own
    defaults: for each material, the materials they sound like (counts over `seeds` seeds;
    "none": no onsets), and the share heard as the named one."""
    from mfmjt_core.evaluation.onsets import detect_onsets_db
    from mfmjt_core.evaluation.scoring import SAMPLE_RATE, analysis_db, heard_material
    from mfmjt_core.pipeline.generator import Generator
    from mfmjt_core.synth import MATERIALS
    from mfmjt_core.synth.vocab import MATERIAL_ADJECTIVES

    generator = Generator.load(model_path)
    heard: dict[str, dict[str, int]] = {}
    for material in MATERIALS:
        prompt = f"a {MATERIAL_ADJECTIVES[material]} ball bounces on a stone floor"
        counts: dict[str, int] = {}
        for seed in range(1, seeds + 1):
            take = generator.generate(prompt=prompt, duration=8.0, seed=seed, sample_rate=SAMPLE_RATE, channels=1)
            db = analysis_db(take.audio[0, 0])
            answer = heard_material(db, detect_onsets_db(db), classifier) or "none"
            counts[answer] = counts.get(answer, 0) + 1
        heard[material] = counts
    hits = sum(counts.get(m, 0) for m, counts in heard.items())
    return {"named_material_accuracy": hits / (seeds * len(MATERIALS)), "named_material_heard": heard}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file (default: the embedded model)")
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--split", default="val", choices=("val", "test"))
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--material-clips", type=int, default=200,
                   help="train clips the material classifier is fitted on (0: skip the material accuracy)")
    p.add_argument("--phrasing", default="template", choices=("template", "user"),
                   help="the text requests read the clips' template captions or prompts in users' words")
    p.add_argument("--named-seeds", type=int, default=6,
                   help="takes per named material (0: skip; needs the material classifier)")
    p.add_argument("--json", help="also write the numbers to this file")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    classifier = None
    if args.material_clips > 0:  # fitted once for both material measures
        from mfmjt_core.evaluation.material_classifier import fit_on_world

        classifier = fit_on_world(args.material_clips, split="train")
    out = diagnose(args.model, args.clips, args.split, args.start, classifier, args.phrasing)
    if args.named_seeds > 0 and classifier is not None:
        out.update(named_materials(args.model, args.named_seeds, classifier))
    for k, v in out.items():
        print(f"{k:40s} {v:.4f}" if isinstance(v, float) else f"{k:40s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
