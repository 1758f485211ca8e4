"""PC vs BP: the models of the BP-vs-PC comparison — PC with its conditions 2 (converged inference)
and 3 (unit variances) kept or relaxed, with the mild weight decay of its Fig. 6, and BP on the same
MLP — named as in the paper (pc_64_8_rc23 …): accuracy and time to convergence (Fig. 2), curves
(Fig. 3), loss landscapes (Figs. 4 and 7), weight distributions (Fig. 5)."""

import pandas as pd
import streamlit as st

from pcdash.errors import PcdashError
from pcdash.experiments.comparison import PCN_COMPARISON
from pcdash.experiments.conditions import (
    CONDITIONS,
    ComparisonSetting,
    landscapes,
    parse_conditions,
)
from pcdash.experiments.conditions import PAPER as PAPER_SETTING
from pcdash.experiments.conditions import QUICK as QUICK_SETTING
from pcdash.figures.pc_compare import (
    algorithm_table,
    benchmark,
    condition_curves,
    cosine_over_training,
    landscape_contours,
    landscape_surfaces,
    sharpness_bars,
    steps_table,
    weight_histograms,
    weight_layers,
)
from pcdash.paper import figures_on
from pcdash.paper.pages import PC_VS_BP
from pcdash.pcn.algorithms import PRECISIONS
from pcdash.ui import state
from pcdash.ui.export import memo, show_figure
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel, panel_header, preset_buttons, settings_expander
from pcdash.ui.pcn_controls import PCN_DATASETS
from pcdash.ui.state import dataset_label

# Each number or choice control: its URL key, the ComparisonSetting field it sets, its label and
# limits; the first four sit in the sidebar, the rest in its expander.
FORMAT = {"fmt_str": "%.2g"}
CONTROLS = [
    ("cwidth", "width", "Width", dict(min_value=1, max_value=state.cap("width"))),
    ("cdepth", "depth", "Hidden layers", dict(min_value=1, max_value=state.cap("depth"))),
    ("cepochs", "epochs", "Epochs", dict(min_value=1, max_value=state.cap("epochs"))),
    ("cseeds", "seeds", "Seeds", dict(min_value=1, max_value=state.cap("seeds"))),
    (
        "cT",
        "inference_steps",
        "Inference steps T (at most)",
        dict(min_value=1, max_value=state.cap("steps")),
    ),
    (
        "ctol",
        "inference_tol",
        "Converged when every layer's energy changes by less than",
        dict(
            min_value=0.0,
            max_value=0.5,
            **FORMAT,
            help="relative change per step; 0: always run all T steps (the paper's 256)",
        ),
    ),
    (
        "ck",
        "relaxed_every",
        "rc2: update the weights every k steps",
        dict(min_value=1, max_value=state.cap("steps")),
    ),
    (
        "cprec",
        "precision",
        "rc3: trainable variance per",
        dict(
            options=PRECISIONS[1:],
            help="one log-variance per layer (the paper's Eq. 6) or one per neuron",
        ),
    ),
    (
        "cwd",
        "weight_decay",
        "_wd: weight decay",
        dict(
            min_value=0.0,
            max_value=1.0,
            **FORMAT,
            help="L2 on weights and log-variances through Adam (a Gaussian prior)",
        ),
    ),
    ("cwlr", "weight_lr", "Weight learning rate", dict(min_value=1e-7, max_value=1.0, **FORMAT)),
    (
        "crlr",
        "relaxed_lr",
        "Weight learning rate of rc2 models",
        dict(
            min_value=1e-7,
            max_value=1.0,
            **FORMAT,
            help="the paper needed 1e-5 with conditions 2 and 3 relaxed",
        ),
    ),
    (
        "cstate_lr",
        "state_lr",
        "State learning rate γ",
        dict(min_value=1e-5, max_value=10.0, fmt_str="%.3g"),
    ),
    ("cbatch", "batch_size", "Batch size", dict(min_value=1, max_value=state.cap("batch"))),
]
FIELDS = {"cdata": "dataset", "conds": "conditions"} | {c[0]: c[1] for c in CONTROLS}


def controls(setting: ComparisonSetting) -> dict:
    return {
        name: ",".join(setting.conditions) if field == "conditions" else getattr(setting, field)
        for name, field in FIELDS.items()
    }


def control(name: str, label: str, options: dict, container):
    """The number input (or, given ``options["options"]``, the select box) of one control."""
    if "options" in options:
        return state.select(
            label,
            name,
            options["options"],
            QUICK[name],
            container=container,
            help=options.get("help"),
        )
    return state.number(label, name, QUICK[name], container=container, **options)


QUICK = controls(QUICK_SETTING)
PAPER = controls(PAPER_SETTING)

st.title("PC vs BP")
st.caption(
    "The same MLP trained by backprop and by predictive coding with Whittington & Bogacz's "
    "conditions kept or relaxed: **rc2** relaxes condition 2 (weights updated every k inference "
    "steps instead of after inference has converged), **rc3** condition 3 (trainable variances), "
    "**_wd** adds the mild weight decay of Fig. 6. Names follow the paper: "
    "algorithm_width_depth_relaxedConditions."
)

sb = st.sidebar
sb.header("PC vs BP")
preset_buttons({"Quick default": QUICK, "Paper's setting (slow)": PAPER}, key="cmp", container=sb)
sb.caption(PC_VS_BP.preset)
v = {}
v["cdata"] = state.select(
    "Dataset", "cdata", PCN_DATASETS, QUICK["cdata"], format_func=dataset_label, container=sb
)
v["conds"] = state.text(
    "Models",
    "conds",
    QUICK["conds"],
    container=sb,
    help="comma-separated: " + ", ".join(CONDITIONS) + "; any may end in _wd (weight decay)",
)
for name, _, label, options in CONTROLS[:4]:
    v[name] = control(name, label, options, sb)
with sb.expander("Conditions, inference and learning"):
    for name, _, label, options in CONTROLS[4:]:
        v[name] = control(name, label, options, st)
state.sync_url(v)
state.report_bad_url_values()
settings_expander(PC_VS_BP)

comparison = None
try:
    setting = ComparisonSetting(
        **{field: v[name] for name, field in FIELDS.items() if field != "conditions"},
        conditions=parse_conditions(v["conds"]),
    )
    comparison = setting.comparison()
except PcdashError as err:
    state.error(err, sb)

if comparison is not None:

    def draw(result, live):
        tag = "live" if live else "done"
        frame = result.frame
        table = memo(f"cmp_table_{tag}", frame, lambda: algorithm_table(frame))
        panel_header(PC_VS_BP, "benchmark")
        show_figure(benchmark(table), table, "pc_vs_bp_benchmark", key=f"cmp_bench_{tag}")
        panel_header(PC_VS_BP, "steps")
        st.dataframe(steps_table(table), hide_index=True, key=f"cmp_df_{tag}")
        panel_header(PC_VS_BP, "curves")
        show_figure(
            memo(f"cmp_curves_{tag}", frame, lambda: condition_curves(frame)),
            frame,
            "pc_vs_bp_curves",
            key=f"cmp_curves_{tag}",
        )
        if live:
            return
        if not result.runs:
            st.info("The landscapes and weight distributions appear once a model has trained.")
            return
        span = state.number(
            "Landscape span (1: Fig. 4; smaller: the zoom of Fig. 7)",
            "cspan",
            1.0,
            min_value=0.01,
            max_value=10.0,
            fmt_str="%.3g",
        )
        state.sync_url({"cspan": span})
        land = memo(
            f"cmp_land_{span}",
            result,
            lambda: landscapes(
                result,
                setting.dataset,
                span=float(span),
                val_fraction=comparison.first.val_fraction,
            ),
        )
        panel_header(
            PC_VS_BP, "landscape", extra=f"Seed-0 members on 256 test examples; span ±{span:g}."
        )
        grid = land.frame()
        show_figure(
            landscape_surfaces(land.alphas, land.alphas, land.surfaces),
            grid,
            "pc_vs_bp_landscape_surface",
            key="cmp_surf",
        )
        show_figure(
            landscape_contours(land.alphas, land.alphas, land.surfaces),
            grid,
            "pc_vs_bp_landscape_contour",
            key="cmp_cont",
        )
        sharp = land.sharpness()
        show_figure(
            sharpness_bars(sharp),
            pd.DataFrame({"model": list(sharp), "sharpness": list(sharp.values())}),
            "pc_vs_bp_sharpness",
            key="cmp_sharp",
        )
        panel_header(PC_VS_BP, "weights")
        weights = land.weights(weight_layers(setting.depth + 1))
        show_figure(weight_histograms(land.models), weights, "pc_vs_bp_weights", key="cmp_hist")
        panel_header(PC_VS_BP, "alignment")
        show_figure(
            cosine_over_training(frame),
            frame[frame["split"] == "train"],
            "pc_vs_bp_cosine",
            key="cmp_cos",
        )
        claims_panel(
            result,
            [f for f in figures_on("pc_vs_bp") if f.experiment.name == "comparison-conditions"],
        )

    experiment_panel(
        PCN_COMPARISON,
        comparison,
        draw,
        key="pc_vs_bp",
        placeholder="Accuracy and time to convergence per model appear here",
    )
