"""Guidance per video stream, tried at sampling time: is timing or timbre what guidance buys?

    python scripts/stream_guidance.py --sync-scale 1.25 --clip-scale 1.25 -- \\
        --model FILE --split val --clips 64 --configs mf1-plain-video --out runs/v-stream

Runs `mfmjt eval synth` (the arguments after `--`) with every guided evaluation replaced by
three branches: the full conditions, the conditions with the sync features dropped (the
network's learned empty sync features), and with the CLIP frame features dropped:

    v = v_c + (sync_scale - 1) (v_c - v_{no sync}) + (clip_scale - 1) (v_c - v_{no clip})

so guidance pushes the timing stream, the appearance stream, or both by separate amounts (one
scale at 1 leaves that stream unguided). The guided configs' own scale and mode are ignored
for requests with a picture; prompt-only requests keep their own guidance.
Three network evaluations per step instead of two; not a product setting (docs/training.md,
"Guidance routes": the measurements). Give each run its own --out: the evaluation's audio cache
does not know about the patch.
"""

from __future__ import annotations

import argparse
import sys

import torch


def _without_video(cond, empty) -> bool:
    return all(torch.equal(cond[k], empty[k].expand_as(cond[k])) for k in ("clip_f", "sync_f"))


def stream_guided(sync_scale: float, clip_scale: float):
    """A drop-in for `mfmjt_core.flows.flow_matching.guided` with one scale per video stream."""
    from mfmjt_core.flows.guidance import guided as plain_guided

    def guided(model, z, r, t, cond, guidance):
        if guidance is None or guidance.mode == "none" or _without_video(cond, guidance.uncond):
            # prompt-only rows have no video stream to split: their own guidance, unchanged
            return plain_guided(model, z, r, t, cond, guidance)
        cond, empty = dict(cond), guidance.uncond
        no_sync = {**cond, "sync_f": empty["sync_f"].expand_as(cond["sync_f"])}
        no_clip = {**cond, "clip_f": empty["clip_f"].expand_as(cond["clip_f"])}
        stacked = {k: torch.cat([cond[k], no_sync[k], no_clip[k]]) for k in cond}
        v_c, v_no_sync, v_no_clip = model(torch.cat([z] * 3), torch.cat([r] * 3), torch.cat([t] * 3),
                                          **stacked).chunk(3)
        return v_c + (sync_scale - 1) * (v_c - v_no_sync) + (clip_scale - 1) * (v_c - v_no_clip)

    return guided


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync-scale", type=float, required=True, help="guidance of the sync (timing) features")
    parser.add_argument("--clip-scale", type=float, required=True, help="guidance of the CLIP (appearance) features")
    args = parser.parse_args(argv[:split])

    from mfmjt_cli.entry import main as mfmjt
    from mfmjt_core.flows import flow_matching

    flow_matching.guided = stream_guided(args.sync_scale, args.clip_scale)
    return mfmjt(["eval", "synth", *argv[split + 1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
