"""Where does a caption decide the ring of an impact? Measured on clips of the synthetic world.

    python scripts/ring_diagnostics.py [--model FILE] [--clips 24] [--times 0.8,0.9,0.95] [--json OUT]

Validation clips whose impacts are all of one material, and whose caption names exactly that
material, are noised to time t0 (z = (1 - t0) x + t0 noise, fixed noise) and integrated back to
t = 0 with the network's instantaneous velocity (Euler, about 25 steps per unit of time) under
four conditions:

- "true caption": text only, the clip's caption;
- "swapped caption": text only, the caption with the material word replaced by the next
  material's in the world's order (wood -> metal -> glass -> rubber -> wood);
- "no caption": text only, the empty caption;
- "video + caption": the clip's picture and caption (the control: the picture names the material);
- "neutral picture + caption", "... + swapped caption", "neutral picture": the clip's picture with
  its balls and cubes in a look that is no material's (`synth.world.neutral_frames`): the
  instants of the impacts are shown, their material only said;
- "sync stream only", "clip stream only": one of the picture's two feature streams, no caption
  (which of them carries the material).

At each reference impact the evaluation's material classifier says what the result sounds like.
The impacts stay where the reference put them (t0 < 1), so the only open question is the ring.
t0 = 1 is one step as the generator takes it, unguided, from the same (unit) noise: a MeanFlow
model's one jump with the average velocity over the whole interval, a flow-matching model's one
Euler step. The impacts are then where the picture puts them, so at t0 = 1 only the conditions
with a picture (the neutral one above all) keep their meaning.
The caption's effect at t0 is the share of impacts heard as the swapped caption's material with
the swapped caption minus the same share with no caption (text only, and beside the neutral
picture): 0 when the words do not reach the ring, up to about 1 when they decide it. Below the
t0 where "no caption" still hears the clip's own material, the ring is already fixed by z_t and
no condition can change it.

Also measured: how well the caption's material can be read from the text encoder's features as
the network pools them (mean over tokens), by a logistic regression fitted on train-split
captions of one impact material and scored on validation ones (chance about 0.25): whether the
words reach the network at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

import torch

CONDITIONS = ("true caption", "swapped caption", "no caption", "video + caption",
              "neutral picture + caption", "neutral picture + swapped caption", "neutral picture",
              "sync stream only", "clip stream only")


def _word(material: str) -> re.Pattern:
    from mfmjt_core.synth.vocab import MATERIAL_ADJECTIVES

    return re.compile(r"\b" + re.escape(MATERIAL_ADJECTIVES[material]) + r"\b")


def next_material(material: str) -> str:
    from mfmjt_core.synth import MATERIALS

    return MATERIALS[(MATERIALS.index(material) + 1) % len(MATERIALS)]


def impact_material(clip) -> str | None:
    """The material of every impact of `clip` when there is exactly one, else None."""
    from mfmjt_core.evaluation.material_classifier import impacts_of

    materials = {material for _, material in impacts_of(clip.events) if material}
    return materials.pop() if len(materials) == 1 else None


def names_only(caption: str, material: str) -> bool:
    """The caption names `material` and no other material."""
    from mfmjt_core.synth import MATERIALS

    return all(bool(_word(m).search(caption)) == (m == material) for m in MATERIALS)


def swap_material(caption: str, material: str) -> str:
    """The caption with `material`'s word replaced by the next material's."""
    from mfmjt_core.synth.vocab import MATERIAL_ADJECTIVES

    return _word(material).sub(MATERIAL_ADJECTIVES[next_material(material)], caption)


def ring_clips(n: int, split: str = "val", search: int = 400) -> list:
    """The first `n` clips of `split` (among `search`) with one impact material, named alone."""
    from mfmjt_core.synth.world import make_clip, split_seeds

    clips = []
    for seed in split_seeds(split, search):
        clip = make_clip(seed)
        material = impact_material(clip)
        if material and names_only(clip.caption, material):
            clips.append(clip)
            if len(clips) == n:
                break
    return clips


def denoise_from(u, z: torch.Tensor, t0: float, cond: dict) -> torch.Tensor:
    """Euler from t0 to 0 with the instantaneous velocity u(z, t, t) (about 25 steps per unit)."""
    steps = max(2, round(25 * t0))
    grid = torch.linspace(t0, 0.0, steps + 1)
    ones = torch.ones(z.shape[0])
    for t_now, t_next in zip(grid[:-1], grid[1:]):
        t = ones * t_now
        z = z - (t_now - t_next) * u(z, t, t, **cond)
    return z


@torch.no_grad()
def diagnose(model_path: str | None, clips: int, times: list[float], classifier, seed: int = 7) -> dict:
    """Each condition's share of impacts heard as the clip's and as the swapped material, per t0
    (noise drawn from `seed`), and the caption's effect, text only and beside the neutral picture."""
    from mfmjt_core.evaluation.material_classifier import clip_impact_features, impacts_of
    from mfmjt_core.model import AudioModel, SamplingSettings
    from mfmjt_core.network.adapter import AverageVelocity
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL
    from mfmjt_core.pipeline.sampling import sample_latents
    from mfmjt_core.synth.world import neutral_frames
    from mfmjt_core.training.synth_task import SynthTask

    one_step = SamplingSettings(steps=1, guidance=1.0, rescale="none")
    path = Path(model_path) if model_path else EMBEDDED_MODEL
    model = AudioModel.load(path).eval()
    net, task = model.net, SynthTask(model)
    chosen = ring_clips(clips)
    if not chosen:
        raise SystemExit("no clip with one impact material named alone")
    task.clip = lambda index: chosen[index]
    batch = task.batch(list(range(len(chosen))))
    f = task.features(batch)
    neutral = [dataclasses.replace(c, frames=neutral_frames(c)) for c in chosen]
    task.clip = lambda index: neutral[index]
    fn = task.features(task.batch(list(range(len(chosen)))))
    b = len(chosen)
    x = net.normalize(batch["latent"])
    materials = [impact_material(c) for c in chosen]
    swapped = [next_material(m) for m in materials]
    empty = net.empty_conditions(b, f["clip_f"].shape[1], f["sync_f"].shape[1])
    text_only = {"clip_f": empty["clip_f"], "sync_f": empty["sync_f"]}
    swapped_text = model.encoders.encode_text([swap_material(c.caption, m) for c, m in zip(chosen, materials)])
    neutral_picture = {"clip_f": fn["clip_f"], "sync_f": fn["sync_f"]}
    conds = {
        "true caption": {**text_only, "text_f": f["text_f"]},
        "swapped caption": {**text_only, "text_f": swapped_text},
        "no caption": {**text_only, "text_f": empty["text_f"]},
        "video + caption": {"clip_f": f["clip_f"], "sync_f": f["sync_f"], "text_f": f["text_f"]},
        "neutral picture + caption": {**neutral_picture, "text_f": f["text_f"]},
        "neutral picture + swapped caption": {**neutral_picture, "text_f": swapped_text},
        "neutral picture": {**neutral_picture, "text_f": empty["text_f"]},
        "sync stream only": {"clip_f": empty["clip_f"], "sync_f": f["sync_f"], "text_f": empty["text_f"]},
        "clip stream only": {"clip_f": f["clip_f"], "sync_f": empty["sync_f"], "text_f": empty["text_f"]},
    }
    u = AverageVelocity(net, model.spec.network.time_convention)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    impacts = [[time_s for time_s, _ in impacts_of(c.events)] for c in chosen]
    rows = []
    for t0 in times:
        noised = (1 - t0) * x + t0 * noise
        for name, cond in conds.items():
            if t0 == 1.0:  # the generator's own one step (its sampler for the model's objective)
                z = sample_latents(net, model.spec.objective, cond, noise, one_step)
            else:
                z = denoise_from(u, noised, t0, cond)
            takes = model.codec.decode(net.unnormalize(z)).numpy()
            calls = [classifier.predict(clip_impact_features(take, times_s)) for take, times_s in zip(takes, impacts)]
            total = sum(len(c) for c in calls)
            rows.append({
                "t0": t0, "condition": name, "impacts": total,
                # RMS distance to the reference latent, after and before (the network removes noise)
                "rms_to_reference": float((z - x).pow(2).mean().sqrt()),
                "noised_rms_to_reference": float((noised - x).pow(2).mean().sqrt()),
                "heard_as_clip_material": sum(h == m for c, m in zip(calls, materials) for h in c) / total,
                "heard_as_swapped_material": sum(h == s for c, s in zip(calls, swapped) for h in c) / total,
            })
    effect, beside_picture = {}, {}
    for t0 in times:
        share = {r["condition"]: r["heard_as_swapped_material"] for r in rows if r["t0"] == t0}
        effect[str(t0)] = share["swapped caption"] - share["no caption"]
        beside_picture[str(t0)] = share["neutral picture + swapped caption"] - share["neutral picture"]
    return {"model": str(path), "clips": b, "rows": rows, "caption_effect": effect,
            "caption_effect_beside_neutral_picture": beside_picture}


def material_from_pooled_text(model_path: str | None, train: int = 1500, val: int = 500) -> dict:
    """Validation accuracy of a logistic regression from the pooled text features to the
    material of the caption's impacts (captions of one impact material, named alone)."""
    from mfmjt_core.model import AudioModel
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL
    from mfmjt_core.synth import MATERIALS
    from mfmjt_core.synth.world import make_clip, split_seeds

    model = AudioModel.load(Path(model_path) if model_path else EMBEDDED_MODEL).eval()

    def rows(split: str, n: int, start: int):
        captions, labels = [], []
        for seed in split_seeds(split, n, start=start):
            clip = make_clip(seed, with_frames=False)
            material = impact_material(clip)
            if material and names_only(clip.caption, material):
                captions.append(clip.caption)
                labels.append(MATERIALS.index(material))
        with torch.no_grad():
            pooled = model.encoders.encode_text(captions).mean(dim=1)
        return pooled, torch.tensor(labels)

    x, y = rows("train", train, 400_000)
    xv, yv = rows("val", val, 0)
    mean, std = x.mean(0), x.std(0) + 1e-6
    x, xv = (x - mean) / std, (xv - mean) / std
    w = torch.zeros(x.shape[1], len(MATERIALS), requires_grad=True)
    b = torch.zeros(len(MATERIALS), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 1e-3 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        accuracy = float(((xv @ w + b).argmax(1) == yv).float().mean())
    return {"material_from_pooled_text_accuracy": accuracy, "captions_train": len(y), "captions_val": len(yv)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file (default: the embedded model)")
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--times", default="0.8,0.9,0.95",
                   help="noise levels t0 to start from (comma-separated, in (0, 1]; 1: one jump from pure noise)")
    p.add_argument("--material-clips", type=int, default=300, help="train clips the material classifier is fitted on")
    p.add_argument("--json", help="also write the numbers to this file")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    times = [float(t) for t in args.times.split(",")]
    if not all(0 < t <= 1 for t in times):
        p.error("--times must lie in (0, 1] (1: one jump from pure noise, the one-step map)")
    torch.set_num_threads(args.threads)
    from mfmjt_core.evaluation.material_classifier import fit_on_world

    out = diagnose(args.model, args.clips, times, fit_on_world(args.material_clips, split="train"))
    out.update(material_from_pooled_text(args.model))
    for r in out["rows"]:
        print(f"t0 {r['t0']:.2f}  {r['condition']:34s}  heard as the clip's material "
              f"{r['heard_as_clip_material']:.2f}  as the swapped caption's {r['heard_as_swapped_material']:.2f}"
              f"  ({r['impacts']} impacts)")
    print("caption effect (swapped caption minus no caption, heard as the swapped material):",
          ", ".join(f"t0 {t}: {v:+.2f}" for t, v in out["caption_effect"].items()))
    print("the same beside the neutral picture:",
          ", ".join(f"t0 {t}: {v:+.2f}" for t, v in out["caption_effect_beside_neutral_picture"].items()))
    print(f"material read from the pooled text features: {out['material_from_pooled_text_accuracy']:.2f} "
          f"({out['captions_val']} validation captions, chance about 0.25)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
