"""The live frame that :func:`pcdash.sweep.run_groups` hands to ``on_progress`` (built one epoch
at a time since issue 12): it only grows, every epoch's rows appear once, and the last one is the
finished sweep's frame, row for row."""

from __future__ import annotations

import pandas as pd

from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.cre_sweep import run_cre_sweep


def test_live_frames_grow_to_the_final_frame():
    config = CREConfig(
        latent_dims=(2, 3), lambdas=(0.0, 1.0), seeds=1, epochs=3, batch_size=64, baselines=("rp",)
    )
    frames: list[pd.DataFrame] = []
    out = run_cre_sweep(config, on_progress=lambda p: frames.append(p.frame))
    sizes = [len(f) for f in frames]
    assert sizes == sorted(sizes) and sizes[-1] == len(out.frame)
    # 4 CRE + 2 RP members, 3 epochs, train/val/test rows each
    assert len(out.frame) == 6 * 3 * 3
    assert not frames[-1].duplicated(["member", "epoch", "split"]).any()
    pd.testing.assert_frame_equal(frames[-1], out.frame)
