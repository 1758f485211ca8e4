"""PC algorithms: every learning rule (PC-SE, PC-CE, iPC, PN, NN, CN) beside BP on the same MLP —
final test accuracy ± spread over seeds next to the PCX paper's Table 1 (MLP rows), time per
epoch relative to BP, and accuracy curves over epochs."""

import streamlit as st

from pcdash.errors import PcdashError
from pcdash.experiments.comparison import PCN_COMPARISON, algorithm_variants
from pcdash.experiments.comparison import TABLE1_DEFAULT as DEFAULT
from pcdash.figures.pc_compare import (
    accuracy_curves,
    algorithm_table,
    time_per_epoch,
    variant_label,
)
from pcdash.paper import FIGURES
from pcdash.paper.pages import PC_ALGORITHMS
from pcdash.paper.pcx import PCX_TABLE1_MLP
from pcdash.pcn import ALGORITHMS
from pcdash.pcn.rules import CN_SCHEDULES
from pcdash.ui import state
from pcdash.ui.export import memo, show_figure
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel, panel_header, settings_expander
from pcdash.ui.pcn_controls import PCN_DATASETS
from pcdash.ui.state import dataset_label

st.title("PC algorithms")
st.caption(
    "Standard PC (squared-error and cross-entropy output), incremental PC, positive, negative and "
    "centred "
    "nudging, and backprop on the same MLP (Pinchetti et al., §4 and Appendix B). Nudging uses "
    "β_e = min(1, β₀ + β_ir·e) in epoch e; centred nudging picks PN or NN at random each epoch."
)

sb = st.sidebar
sb.header("Algorithms")
v = {}
v["adata"] = state.select(
    "Dataset", "adata", PCN_DATASETS, DEFAULT.dataset, format_func=dataset_label, container=sb
)
v["algs"] = state.text(
    "Algorithms",
    "algs",
    ",".join(ALGORITHMS),
    container=sb,
    help="comma-separated: " + ", ".join(ALGORITHMS) + "; each is its own compiled program",
)
v["awidth"] = state.size("Width", "awidth", DEFAULT.widths[0], "width", container=sb)
v["adepth"] = state.size("Hidden layers", "adepth", DEFAULT.depth, "depth", container=sb)
v["aseeds"] = state.size("Seeds", "aseeds", DEFAULT.seeds, "seeds", container=sb)
v["aepochs"] = state.size("Epochs", "aepochs", DEFAULT.epochs, "epochs", container=sb)
with sb.expander("Inference and learning"):
    v["astate_lr"] = state.number(
        "State learning rate γ",
        "astate_lr",
        DEFAULT.state_lrs[0],
        min_value=1e-5,
        max_value=10.0,
        fmt_str="%.4g",
        container=st,
    )
    v["aT"] = state.size("Inference steps T", "aT", DEFAULT.inference_steps, "steps", container=st)
    v["awlr"] = state.number(
        "Weight learning rate",
        "awlr",
        DEFAULT.weight_lr,
        min_value=1e-6,
        max_value=1.0,
        fmt_str="%.4g",
        container=st,
    )
    v["abeta0"] = state.number(
        "β₀ (nudging)",
        "abeta0",
        DEFAULT.beta0,
        min_value=0.001,
        max_value=1.0,
        fmt_str="%.3g",
        container=st,
    )
    v["abetar"] = state.number(
        "β growth per epoch",
        "abetar",
        DEFAULT.beta_rate,
        min_value=0.0,
        max_value=1.0,
        fmt_str="%.3g",
        container=st,
    )
    v["acn"] = state.select(
        "CN: PN or NN each epoch",
        "acn",
        CN_SCHEDULES,
        DEFAULT.cn_schedule,
        container=st,
        help="random (the paper: seeded per member) or alternating PN, NN, PN, …",
    )
    v["abatch"] = state.size("Batch size", "abatch", DEFAULT.batch_size, "batch", container=st)
state.sync_url(v)
state.report_bad_url_values()
settings_expander(PC_ALGORITHMS)

comparison = None
try:
    comparison = algorithm_variants(
        v["algs"].split(","),
        dataset=v["adata"],
        widths=(int(v["awidth"]),),
        depth=int(v["adepth"]),
        seeds=int(v["aseeds"]),
        epochs=int(v["aepochs"]),
        state_lrs=(float(v["astate_lr"]),),
        inference_steps=int(v["aT"]),
        weight_lr=float(v["awlr"]),
        beta0=float(v["abeta0"]),
        beta_rate=float(v["abetar"]),
        batch_size=int(v["abatch"]),
        cn_schedule=v["acn"],
    )
except PcdashError as err:
    state.error(err, sb)

if comparison is not None:

    def draw(result, live):
        tag = "live" if live else "done"
        frame = result.frame
        table = memo(f"alg_table_{tag}", frame, lambda: algorithm_table(frame))
        panel_header(PC_ALGORITHMS, "table")
        paper = {
            d: {a: f"{m:.2f} ± {sd:.2f}" for a, (m, sd) in rows.items()}
            for d, rows in PCX_TABLE1_MLP.items()
        }
        shown = table.assign(
            algorithm=table["variant"].map(variant_label),
            mnist=table["variant"].map(paper["mnist"]),
            fmnist=table["variant"].map(paper["fashion_mnist"]),
        ).rename(
            columns={
                "algorithm": "Algorithm",
                "accuracy_mean": "Test accuracy (%)",
                "accuracy_std": "± std (seeds)",
                "seeds": "Seeds",
                "diverged": "Diverged",
                "epoch_seconds": "s / epoch",
                "time_vs_bp": "× BP time",
                "mnist": "PCX Table 1: MNIST",
                "fmnist": "PCX Table 1: FashionMNIST",
            }
        )
        st.dataframe(
            shown.drop(columns=["variant", "steps_used", "epochs_to_90", "time_to_90"]),
            hide_index=True,
            key=f"alg_df_{tag}",
        )
        a, b = st.columns(2)
        with a:
            panel_header(PC_ALGORITHMS, "curves")
            show_figure(
                memo(f"alg_curves_{tag}", frame, lambda: accuracy_curves(frame)),
                frame[frame["split"] == "test"] if len(frame) else frame,
                "algorithm_accuracy_curves",
                key=f"alg_curves_{tag}",
            )
        with b:
            panel_header(PC_ALGORITHMS, "time")
            show_figure(
                time_per_epoch(table), table, "algorithm_time_per_epoch", key=f"alg_time_{tag}"
            )
        if len(table) and table["diverged"].sum():
            st.warning(
                f"{int(table['diverged'].sum())} model(s) diverged (NaN/inf); their accuracy is "
                "left out."
            )
        if not live:
            claims_panel(result, [FIGURES["pcx-table1"]])

    experiment_panel(
        PCN_COMPARISON,
        comparison,
        draw,
        key="algorithms",
        placeholder="Accuracy of every learning rule appears here",
    )
