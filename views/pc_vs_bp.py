"""PC vs BP: the same MLP trained by PC (under the conditions of the BP-vs-PC comparison:
trainable precision, relaxed convergence, weight decay) and by BP — loss landscapes along two
filter-normalised random directions, weight histograms per layer, the per-layer cosine between
the PC update and the BP gradient over training, and accuracy/divergence per condition."""

from dataclasses import replace

import numpy as np
import streamlit as st

from pcdash.data import load_dataset
from pcdash.engine import member_slice
from pcdash.errors import PcdashError
from pcdash.figures.pc_compare import (
    algorithm_table,
    condition_summary,
    cosine_over_training,
    landscape_contours,
    landscape_surfaces,
    weight_histograms,
)
from pcdash.pcn import PCNConfig
from pcdash.pcn.landscape import loss_landscape
from pcdash.ui import state
from pcdash.ui.pcn_controls import PCN_DATASETS, comparison_result, start_comparison_job
from pcdash.ui.widgets import dataset_label, job_panel, memo, show_figure

DEFAULT = PCNConfig(state_lrs=(0.1,), widths=(64,), depth=3, epochs=6, seeds=2, batch_size=32, inference_steps=8,
                    track_alignment=True)  # fmt: skip
CONDITIONS = {"standard": {}, "precision": {"precision": True}, "relaxed": {"update_every": 2},
              "precision+relaxed": {"precision": True, "update_every": 2}}  # fmt: skip

st.title("PC vs BP")
st.caption("Where PC and BP differ inside the network: the conditions under which PC approximates BP "
           "(converged inference, fixed unit precision) relaxed one by one, with and without weight decay.")

sb = st.sidebar
sb.header("PC vs BP")
v = {}
v["cdata"] = state.select("Dataset", "cdata", PCN_DATASETS, DEFAULT.dataset, format_func=dataset_label, container=sb)
v["conds"] = state.text("Conditions", "conds", ",".join(CONDITIONS), container=sb,
                        help="comma-separated: " + ", ".join(CONDITIONS) + " (PC-SE; BP-SE always trains beside)")
v["cwd"] = state.number("Weight decay", "cwd", 1e-4, min_value=0.0, max_value=1.0, fmt_str="%.2g", container=sb,
                        help="AdamW's decoupled decay, on the weights and the log-variances")  # fmt: skip
v["ck"] = state.number("Relaxed: update every k steps", "ck", 2, min_value=1, max_value=200, container=sb)
v["cwidth"] = state.number("Width", "cwidth", DEFAULT.widths[0], min_value=1, max_value=4096, container=sb)
v["cdepth"] = state.number("Hidden layers", "cdepth", DEFAULT.depth, min_value=1, max_value=8, container=sb)
v["cT"] = state.number("Inference steps T", "cT", DEFAULT.inference_steps, min_value=1, max_value=200, container=sb)
v["cseeds"] = state.number("Seeds", "cseeds", DEFAULT.seeds, min_value=1, max_value=10, container=sb)
v["cepochs"] = state.number("Epochs", "cepochs", DEFAULT.epochs, min_value=1, max_value=200, container=sb)
state.sync_url(v)
state.report_bad_url_values()

variants = None
try:
    names = [c.strip() for c in v["conds"].split(",") if c.strip()]
    if not names:
        raise PcdashError("choose at least one condition")
    bad = [c for c in names if c not in CONDITIONS]
    if bad:
        raise PcdashError(f"unknown condition {bad[0]!r}; choose from {', '.join(CONDITIONS)}")
    base = replace(DEFAULT, dataset=v["cdata"], widths=(int(v["cwidth"]),), depth=int(v["cdepth"]),
                   inference_steps=int(v["cT"]), seeds=int(v["cseeds"]), epochs=int(v["cepochs"]),
                   weight_decay=float(v["cwd"]))  # fmt: skip
    variants = [(c, replace(base, algorithm="pc-se", **{k: (int(v["ck"]) if k == "update_every" else val)
                                                         for k, val in CONDITIONS[c].items()}).validate())
                for c in dict.fromkeys(names)]  # fmt: skip
    variants.append(("bp-se", replace(base, algorithm="bp-se").validate()))
except PcdashError as err:
    state.error(err, sb)

if variants is not None:

    def landscapes(result, pc_name: str):
        data = load_dataset(base.dataset, val_fraction=base.val_fraction)
        x, y = data.x_test[:256], data.y_test[:256]
        models = {n: member_slice(result.runs[n].mlp, 0) for n in (pc_name, "bp-se")}
        out = {n: loss_landscape(m, x, y, seed=0, span=1.0, points=21) for n, m in models.items()}
        alphas, betas = out["bp-se"][0], out["bp-se"][1]
        return models, alphas, betas, {n: o[2] for n, o in out.items()}

    def draw(result, live):
        tag = "live" if live else "done"
        frame = result.frame
        table = algorithm_table(frame)
        st.subheader("Accuracy and stability per condition")
        show_figure(condition_summary(table), table, "pc_vs_bp_conditions", key=f"cmp_cond_{tag}")
        st.subheader("Gradient alignment over training")
        show_figure(cosine_over_training(frame), frame[frame["split"] == "train"] if len(frame) else frame,
                    "pc_vs_bp_cosine", key=f"cmp_cos_{tag}")  # fmt: skip
        if live:
            return
        pcs = [n for n in result.variants if n != "bp-se" and n in result.runs]
        if not pcs or "bp-se" not in result.runs:
            st.info("The landscapes and weight histograms appear once a PC model and the BP model are trained.")
            return
        pc_name = state.select("PC model for the landscape", "cmodel", tuple(pcs), pcs[0])
        state.sync_url({"cmodel": pc_name})
        models, alphas, betas, surfaces = memo(f"cmp_land_{pc_name}", result, lambda: landscapes(result, pc_name))
        st.subheader("Loss landscape (seed 0, 256 test examples)")
        grid = [{"model": n, "alpha": float(a), "beta": float(b), "loss": float(z[j, i])}
                for n, z in surfaces.items() for j, b in enumerate(betas) for i, a in enumerate(alphas)]  # fmt: skip
        import pandas as pd

        grid = pd.DataFrame(grid)
        show_figure(landscape_surfaces(alphas, betas, surfaces), grid, "pc_vs_bp_landscape_surface", key="cmp_surf")
        show_figure(landscape_contours(alphas, betas, surfaces), grid, "pc_vs_bp_landscape_contour", key="cmp_cont")
        st.subheader("Weight distributions")
        weights = pd.DataFrame([{"model": n, "layer": i + 1, "weight": float(w)} for n, m in models.items()
                                for i, layer in enumerate(m.weights) for w in np.asarray(layer).ravel()[:5000]])  # fmt: skip
        show_figure(weight_histograms(models), weights, "pc_vs_bp_weights", key="cmp_hist")

    job_panel(comparison_result(variants),
              start=lambda restart: start_comparison_job(variants, f"PC vs BP · {variants[0][1].dataset}", restart=restart),
              body=draw, key="pc_vs_bp", placeholder="Accuracy per condition appears here")  # fmt: skip
