"""PC vs BP: the models of the BP-vs-PC comparison — PC with its conditions 2 (converged inference)
and 3 (unit variances) kept or relaxed, with the mild weight decay of its Fig. 6, and BP on the same
MLP — named as in the paper (pc_64_8_rc23 …): accuracy and time to convergence (Fig. 2), curves
(Fig. 3), loss landscapes (Figs. 4 and 7), weight distributions (Fig. 5)."""


import numpy as np
import pandas as pd
import streamlit as st

from pcdash.data import load_dataset
from pcdash.engine import member_slice
from pcdash.errors import PcdashError
from pcdash.figures.pc_compare import (
    algorithm_table,
    benchmark,
    condition_curves,
    cosine_over_training,
    landscape_contours,
    landscape_surfaces,
    sharpness_bars,
    weight_histograms,
    weight_layers,
)
from pcdash.paper import figures_on
from pcdash.paper.pages import PC_VS_BP
from pcdash.pcn.algorithms import PRECISIONS
from pcdash.pcn.conditions import CONDITIONS, ComparisonSetting, parse_conditions
from pcdash.pcn.conditions import PAPER as PAPER_SETTING
from pcdash.pcn.conditions import QUICK as QUICK_SETTING
from pcdash.pcn.landscape import loss_landscape, sharpness
from pcdash.ui import state
from pcdash.ui.paper import claims_panel, panel_header, preset_buttons, settings_expander
from pcdash.ui.pcn_controls import PCN_DATASETS, comparison_result, start_comparison_job
from pcdash.ui.widgets import dataset_label, job_panel, memo, show_figure

# Each control and the ComparisonSetting field it sets; the quick default and the paper's setting.
FIELDS = {"cdata": "dataset", "conds": "conditions", "cwidth": "width", "cdepth": "depth", "cT": "inference_steps",
          "ctol": "inference_tol", "ck": "relaxed_every", "cprec": "precision", "cwd": "weight_decay",
          "cwlr": "weight_lr", "crlr": "relaxed_lr", "cgamma": "state_lr", "cepochs": "epochs", "cseeds": "seeds",
          "cbatch": "batch_size"}  # fmt: skip


def controls(setting: ComparisonSetting) -> dict:
    return {name: ",".join(setting.conditions) if field == "conditions" else getattr(setting, field)
            for name, field in FIELDS.items()}  # fmt: skip


QUICK = controls(QUICK_SETTING)
PAPER = controls(PAPER_SETTING)

st.title("PC vs BP")
st.caption("The same MLP trained by backprop and by predictive coding with Whittington & Bogacz's conditions kept "
           "or relaxed: **rc2** relaxes condition 2 (weights updated every k inference steps instead of after "
           "inference has converged), **rc3** condition 3 (trainable variances), **_wd** adds the mild weight decay "
           "of Fig. 6. Names follow the paper: algorithm_width_depth_relaxedConditions.")  # fmt: skip

sb = st.sidebar
sb.header("PC vs BP")
preset_buttons({"Quick default": QUICK, "Paper's setting (slow)": PAPER}, key="cmp", container=sb)
sb.caption(PC_VS_BP.preset)
v = {}
v["cdata"] = state.select("Dataset", "cdata", PCN_DATASETS, QUICK["cdata"], format_func=dataset_label, container=sb)
v["conds"] = state.text("Models", "conds", QUICK["conds"], container=sb,
                        help="comma-separated: " + ", ".join(CONDITIONS) + "; any may end in _wd (weight decay)")
v["cwidth"] = state.number("Width", "cwidth", QUICK["cwidth"], min_value=1, max_value=4096, container=sb)
v["cdepth"] = state.number("Hidden layers", "cdepth", QUICK["cdepth"], min_value=1, max_value=8, container=sb)
v["cepochs"] = state.number("Epochs", "cepochs", QUICK["cepochs"], min_value=1, max_value=200, container=sb)
v["cseeds"] = state.number("Seeds", "cseeds", QUICK["cseeds"], min_value=1, max_value=10, container=sb)
with sb.expander("Conditions, inference and learning"):
    v["cT"] = state.number("Inference steps T (at most)", "cT", QUICK["cT"], min_value=1, max_value=1000, container=st)
    v["ctol"] = state.number("Converged when every layer's energy changes by less than", "ctol", QUICK["ctol"],
                             min_value=0.0, max_value=0.5, fmt_str="%.2g", container=st,
                             help="relative change per step; 0: always run all T steps (the paper's 256)")  # fmt: skip
    v["ck"] = state.number("rc2: update the weights every k steps", "ck", QUICK["ck"], min_value=1, max_value=1000,
                           container=st)  # fmt: skip
    v["cprec"] = state.select("rc3: trainable variance per", "cprec", PRECISIONS[1:], QUICK["cprec"], container=st,
                              help="one log-variance per layer (the paper's Eq. 6) or one per neuron")  # fmt: skip
    v["cwd"] = state.number("_wd: weight decay", "cwd", QUICK["cwd"], min_value=0.0, max_value=1.0, fmt_str="%.2g",
                            container=st, help="L2 on weights and log-variances through Adam (a Gaussian prior)")  # fmt: skip
    v["cwlr"] = state.number("Weight learning rate", "cwlr", QUICK["cwlr"], min_value=1e-7, max_value=1.0,
                             fmt_str="%.2g", container=st)  # fmt: skip
    v["crlr"] = state.number("Weight learning rate of rc2 models", "crlr", QUICK["crlr"], min_value=1e-7,
                             max_value=1.0, fmt_str="%.2g", container=st,
                             help="the paper needed 1e-5 with conditions 2 and 3 relaxed")  # fmt: skip
    v["cgamma"] = state.number("State learning rate γ", "cgamma", QUICK["cgamma"], min_value=1e-5, max_value=10.0,
                               fmt_str="%.3g", container=st)  # fmt: skip
    v["cbatch"] = state.number("Batch size", "cbatch", QUICK["cbatch"], min_value=1, max_value=4096, container=st)
state.sync_url(v)
state.report_bad_url_values()
settings_expander(PC_VS_BP)

variants = None
try:
    setting = ComparisonSetting(**{field: v[name] for name, field in FIELDS.items() if field != "conditions"},
                                conditions=parse_conditions(v["conds"]))  # fmt: skip
    variants = setting.variants()
except PcdashError as err:
    state.error(err, sb)

if variants is not None:
    names = [n for n, _ in variants]

    def landscapes(result, span: float):
        data = load_dataset(setting.dataset, val_fraction=variants[0][1].val_fraction)
        x, y = data.x_test[:256], data.y_test[:256]
        models = {n: member_slice(result.runs[n].mlp, 0) for n in names if n in result.runs}
        out = {n: loss_landscape(m, x, y, seed=0, span=span, points=21) for n, m in models.items()}
        alphas = next(iter(out.values()))[0]
        return models, alphas, {n: o[2] for n, o in out.items()}

    def draw(result, live):
        tag = "live" if live else "done"
        frame = result.frame
        table = memo(f"cmp_table_{tag}", frame, lambda: algorithm_table(frame))
        panel_header(PC_VS_BP, "benchmark")
        show_figure(benchmark(table), table, "pc_vs_bp_benchmark", key=f"cmp_bench_{tag}")
        panel_header(PC_VS_BP, "steps")
        shown = table[["variant", "accuracy_mean", "accuracy_std", "steps_used", "epochs_to_90", "time_to_90",
                       "epoch_seconds", "diverged"]].rename(columns={
            "variant": "Model", "accuracy_mean": "Test accuracy (%)", "accuracy_std": "± std (seeds)",
            "steps_used": "Inference steps per batch", "epochs_to_90": "Epochs to 90% of final",
            "time_to_90": "Time to 90% (s)", "epoch_seconds": "s / epoch", "diverged": "Diverged"})  # fmt: skip
        st.dataframe(shown, hide_index=True, key=f"cmp_df_{tag}")
        panel_header(PC_VS_BP, "curves")
        show_figure(memo(f"cmp_curves_{tag}", frame, lambda: condition_curves(frame)), frame, "pc_vs_bp_curves",
                    key=f"cmp_curves_{tag}")  # fmt: skip
        if live:
            return
        if not result.runs:
            st.info("The landscapes and weight distributions appear once a model has trained.")
            return
        span = state.number("Landscape span (1: Fig. 4; smaller: the zoom of Fig. 7)", "cspan", 1.0, min_value=0.01,
                            max_value=10.0, fmt_str="%.3g")  # fmt: skip
        state.sync_url({"cspan": span})
        models, alphas, surfaces = memo(f"cmp_land_{span}", result, lambda: landscapes(result, float(span)))
        panel_header(PC_VS_BP, "landscape", extra=f"Seed-0 members on 256 test examples; span ±{span:g}.")
        grid = pd.DataFrame([{"model": n, "alpha": float(a), "beta": float(b), "loss": float(z[j, i])}
                             for n, z in surfaces.items() for j, b in enumerate(alphas)
                             for i, a in enumerate(alphas)])  # fmt: skip
        show_figure(landscape_surfaces(alphas, alphas, surfaces), grid, "pc_vs_bp_landscape_surface", key="cmp_surf")
        show_figure(landscape_contours(alphas, alphas, surfaces), grid, "pc_vs_bp_landscape_contour", key="cmp_cont")
        sharp = {n: sharpness(alphas, alphas, z) for n, z in surfaces.items()}
        show_figure(sharpness_bars(sharp), pd.DataFrame({"model": list(sharp), "sharpness": list(sharp.values())}),
                    "pc_vs_bp_sharpness", key="cmp_sharp")  # fmt: skip
        panel_header(PC_VS_BP, "weights")
        layers = weight_layers(setting.depth + 1)
        weights = pd.DataFrame([{"model": n, "layer": i, "weight": float(w)} for n, m in models.items()
                                for i in layers for w in np.asarray(m.weights[i - 1]).ravel()[:5000]])  # fmt: skip
        show_figure(weight_histograms(models), weights, "pc_vs_bp_weights", key="cmp_hist")
        panel_header(PC_VS_BP, "alignment")
        show_figure(cosine_over_training(frame), frame[frame["split"] == "train"], "pc_vs_bp_cosine", key="cmp_cos")
        claims_panel(result, [f for f in figures_on("pc_vs_bp") if f.experiment.name == "comparison-conditions"])

    job_panel(comparison_result(variants),
              start=lambda restart: start_comparison_job(variants, f"PC vs BP · {setting.dataset}", restart=restart),
              body=draw, key="pc_vs_bp", placeholder="Accuracy and time to convergence per model appear here")  # fmt: skip
