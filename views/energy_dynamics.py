"""Energy dynamics: PCX §5.1 and Appendix D on the paper's setting — energies per layer over the
inference steps (Fig. 6b), accuracy vs γ for SGD and AdamW (Fig. 6c), the energy ratio vs γ
(Fig. 6d), as a second run accuracy vs γ per width (Fig. 7), and as a third the state
initialisation against T (Fig. 6a). Which figure each panel shows, how the setting differs from
the paper's and whether the figure's claim holds on the page's run come from :mod:`pcdash.paper`."""

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from pcdash.data import load_dataset
from pcdash.errors import PcdashError
from pcdash.experiments.comparison import PCN_COMPARISON, ComparisonConfig
from pcdash.experiments.pcn_sweep import PCN_SWEEP, energy_trace_for_batch
from pcdash.experiments.pcx_settings import (
    STABILITY_WIDTHS,
    energy_propagation_config,
    paper_weight_lr,
)
from pcdash.figures.paper import accuracy_vs_steps_by_init, best_accuracy_by_init
from pcdash.figures.pcn import (
    accuracy_vs_gamma,
    accuracy_vs_gamma_by_width,
    energy_per_layer_over_epochs,
    energy_ratio_vs_gamma,
    energy_vs_step,
    energy_vs_step_grid,
    pcn_training_curves,
    width_gamma_grid,
)
from pcdash.paper import FIGURES
from pcdash.paper.catalogue import fmt
from pcdash.paper.experiments import (
    INIT_KINDS,
    INIT_OPTIMIZER,
    INIT_STATE_LRS,
    INIT_STEPS,
    init_variants,
)
from pcdash.paper.pages import ENERGY_SETTING
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.pcn import ACTIVATIONS
from pcdash.pcn.network import ACTIVATION_NAMES
from pcdash.pcn.stability import (
    dataset_classes,
    largest_stable_state_lr,
    member_summary,
    trained_accuracy,
)
from pcdash.results import final_rows
from pcdash.ui import state
from pcdash.ui.export import show_figure
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel
from pcdash.ui.pcn_controls import pcn_sidebar

BEST = "best"
PANELS = ("pcx-fig6b", "pcx-fig6c", "pcx-fig6d", "pcx-fig7", "pcx-fig6a")


def paper_caption(name: str) -> None:
    fig = FIGURES[name]
    st.caption(f"**PCX {fig.number}.** {fig.shows}")


st.title("Energy dynamics")
st.caption(
    "How the energy F = Σ ½‖h_l − μ_l‖² flows back from the output during inference, and how the "
    "state "
    "learning rate γ, the weight optimiser and the width shape learning (Pinchetti et al., §5.1, "
    "App. D)."
)
with st.expander("Which paper figures this page shows, and how its setting differs"):
    st.markdown(ENERGY_SETTING)
    for f in (FIGURES[n] for n in PANELS):
        st.markdown(
            f"**{f.number}** — {f.shows}  \n*Paper:* {f.paper_setting}  \n*Here:* "
            f"{f.offline_setting} " + "Differences: " + "; ".join(f.differences) + "."
        )
config = pcn_sidebar(energy_propagation_config(), paper_lrs=paper_weight_lr)

if config is not None:
    classes = dataset_classes(config.dataset)
    trained_cut = trained_accuracy(classes)
    pick = st.columns(4)
    width = state.select(
        "Width", "e_width", tuple(config.widths), config.widths[0], container=pick[0]
    )
    optimizer = state.select(
        "Weight optimiser",
        "e_opt",
        tuple(config.optimizers),
        config.optimizers[0],
        container=pick[1],
    )
    state_lr_choice = state.select(
        "γ",
        "e_state_lr",
        (BEST, *(f"{g:g}" for g in config.swept_state_lrs)),
        BEST,
        container=pick[2],
        format_func=lambda g: "best accuracy (as Fig. 6b)" if g == BEST else f"{g}",
        help="the model whose energies are drawn; Fig. 6b shows the best one",
    )
    seed = state.select("Seed", "e_seed", tuple(range(config.seeds)), 0, container=pick[3])
    state.sync_url(
        {"e_width": width, "e_opt": optimizer, "e_state_lr": state_lr_choice, "e_seed": seed}
    )

    def chosen_state_lr(frame) -> float:
        if state_lr_choice != BEST:
            return float(state_lr_choice)
        summary = member_summary(frame, classes)
        mine = summary[(summary["width"] == width) & (summary["optimizer"] == optimizer)]
        accuracy = (
            pd.to_numeric(mine["accuracy"], errors="coerce")
            .groupby(mine["state_lr"])
            .mean()
            .dropna()
        )
        return float(accuracy.idxmax()) if len(accuracy) else float(config.swept_state_lrs[0])

    def member_of(members, state_lr):
        same_state_lr = np.isclose(members["state_lr"], state_lr, equal_nan=True)
        rows = members[
            (members["width"] == width)
            & (members["optimizer"] == optimizer)
            & same_state_lr
            & (members["seed"] == seed)
        ]
        return None if rows.empty else int(rows.index[0])

    def draw(result, live):
        tag = "live" if live else "done"
        frame = result.frame
        members = result.members.reset_index(drop=True)
        trace = result.energy_trace
        state_lr = chosen_state_lr(frame)
        row = member_of(members, state_lr)
        st.subheader("Energy propagation (Fig. 6b–d)")
        left, right = st.columns(2)
        with left:
            if trace is None or row is None or not np.isfinite(trace[row]).any():
                st.info("Energies of this model appear after its first epoch (or it diverged).")
            else:
                fig = energy_vs_step(
                    trace[row],
                    title=f"Last training batch · γ = {state_lr:g} · {optimizer} · width {width}",
                )
                show_figure(fig, None, "energy_vs_step", key=f"evs_{tag}")
            paper_caption("pcx-fig6b")
        with right:
            show_figure(
                accuracy_vs_gamma(frame),
                final_rows(frame, "test"),
                "accuracy_vs_gamma",
                key=f"avg_{tag}",
            )
            paper_caption("pcx-fig6c")
        chosen = members[(members["width"] == width) & (members["optimizer"] == optimizer)]
        if trace is not None and len(chosen):
            show_figure(
                energy_vs_step_grid(trace[chosen.index.to_numpy()], chosen.reset_index(drop=True)),
                None,
                "energy_vs_step_per_gamma",
                key=f"evsg_{tag}",
            )
        a, b = st.columns(2)
        with a:
            show_figure(
                energy_ratio_vs_gamma(frame, min_accuracy=trained_cut),
                final_rows(frame, "train"),
                "energy_ratio_vs_gamma",
                key=f"erg_{tag}",
            )
            paper_caption("pcx-fig6d")
        with b:
            show_figure(
                pcn_training_curves(frame),
                frame[frame["split"].isin(["train", "val"])],
                "pcn_training_curves",
                key=f"ptc_{tag}",
            )
        mine = (
            frame[frame["member"] == members.loc[row, "member"]]
            if row is not None and len(frame)
            else frame.iloc[0:0]
        )
        show_figure(
            energy_per_layer_over_epochs(mine), mine, "energy_over_epochs", key=f"eoe_{tag}"
        )
        if not live and row is not None and config.algorithm.startswith("pc"):
            with st.expander("Energies on a batch you choose (trained weights, nothing updated)"):
                data = load_dataset(config.dataset, val_fraction=config.val_fraction)
                n_batches = max(1, len(data.y_test) // config.batch_size)
                b = st.number_input("Test batch", 0, n_batches - 1, 0, key="e_batch")
                sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
                chosen_trace = energy_trace_for_batch(result, data.x_test[sl], data.y_test[sl])
                show_figure(
                    energy_vs_step(chosen_trace[row], title=f"Test batch {b}"),
                    None,
                    "energy_chosen_batch",
                    key="evs_batch",
                )
        diverged = frame.groupby("member")["diverged"].any().sum() if len(frame) else 0
        if diverged:
            st.warning(
                f"{int(diverged)} model(s) diverged (NaN/inf); they are left out of the plots and "
                "marked in the grid."
            )
        if not live:
            claims_panel(result, [FIGURES[n] for n in ("pcx-fig6b", "pcx-fig6c", "pcx-fig6d")])

    experiment_panel(
        PCN_SWEEP,
        config,
        draw,
        key="energy",
        placeholder="Energy per layer and accuracy appear here, epoch by epoch, as the models "
        "train.",
    )

    st.divider()
    st.subheader("Training stability (Fig. 7)")
    paper_caption("pcx-fig7")
    cols = st.columns(2)
    v = {
        "s_widths": state.text(
            "Widths",
            "s_widths",
            ",".join(map(str, STABILITY_WIDTHS)),
            container=cols[0],
            help="comma-separated; each width is its own compiled program (1024 takes minutes)",
        ),
        "s_act": state.select(
            "Activation",
            "s_act",
            tuple(ACTIVATIONS),
            "leaky_relu",
            container=cols[1],
            format_func=lambda a: ACTIVATION_NAMES.get(a, a),
            help="PCX App. D.2: LeakyReLU",
        ),
    }
    state.sync_url(v)
    try:
        stability = replace(
            config, widths=parse_int_list(v["s_widths"], "widths"), activation=v["s_act"]
        ).validate()
    except PcdashError as err:
        st.error(str(err))
        stability = None
    if stability is not None:
        n_models = (
            len(stability.widths)
            * len(stability.optimizers)
            * len(stability.swept_state_lrs)
            * stability.seeds
        )
        st.caption(
            "The sidebar's setting (γ, optimisers, seeds, epochs, learning rates) at "
            f"{len(stability.widths)} "
            f"widths: {n_models} "
            "models. A model trains when its test accuracy is at least halfway from chance to 1 "
            f"(≥ {trained_cut:.2f} here)."
        )

        def draw_stability(result, live):
            frame = result.frame
            tag = "live" if live else "done"
            show_figure(
                accuracy_vs_gamma_by_width(frame, classes),
                final_rows(frame, "test"),
                "stability",
                key=f"stab_{tag}",
            )
            summary = member_summary(frame, classes)
            if len(summary):
                table = largest_stable_state_lr(summary, classes)
                table = table.pivot(index="width", columns="optimizer", values="stable_state_lr")
                st.caption(
                    "Largest γ that still trains (every γ up to it trains; empty: the smallest γ "
                    "already fails)"
                )
                st.dataframe(
                    table.rename(columns=lambda o: {"adamw": "AdamW", "sgd": "SGD"}.get(o, o))
                )
            with st.expander("The same accuracies as a width × γ grid"):
                show_figure(width_gamma_grid(frame), None, "width_gamma_grid", key=f"wg_{tag}")
            if not live:
                claims_panel(result, [FIGURES["pcx-fig7"]])

        experiment_panel(
            PCN_SWEEP,
            stability,
            draw_stability,
            key="stability",
            train_label="Train the width sweep",
        )

    st.divider()
    st.subheader("State initialisation (Fig. 6a)")
    paper_caption("pcx-fig6a")
    cols = st.columns(4)
    v = {
        "i_inits": state.text(
            "Initialisations",
            "i_inits",
            ",".join(INIT_KINDS),
            container=cols[0],
            help="comma-separated: forward, zero, gaussian (h ~ N(0, I))",
        ),
        "i_T": state.text(
            "Inference steps T",
            "i_T",
            fmt(INIT_STEPS),
            container=cols[1],
            help="comma-separated; each initialisation × T is its own compiled program",
        ),
        "i_state_lrs": state.text(
            "γ values",
            "i_state_lrs",
            fmt(INIT_STATE_LRS),
            container=cols[2],
            help="each cell shows the best of these (the paper reports the highest accuracy)",
        ),
        "i_opt": state.select(
            "Weight optimiser", "i_opt", ("adamw", "sgd"), INIT_OPTIMIZER, container=cols[3]
        ),
    }
    state.sync_url(v)
    try:
        variants = init_variants(
            config,
            inits=[i.strip() for i in v["i_inits"].split(",") if i.strip()],
            steps=parse_int_list(v["i_T"], "inference steps T"),
            state_lrs=parse_float_list(v["i_state_lrs"], "γ values"),
            optimizer=v["i_opt"],
        )
    except PcdashError as err:
        state.error(err)
        variants = None
    if variants:
        st.caption(
            f"The sidebar's setting with {len(variants)} initialisation × T programs of "
            f"{len(variants[0][1].swept_state_lrs) * variants[0][1].seeds} models each."
        )

        def draw_init(result, live):
            frame = result.frame
            show_figure(
                accuracy_vs_steps_by_init(frame),
                best_accuracy_by_init(frame),
                "init_vs_steps",
                key=f"init_{'live' if live else 'done'}",
            )
            if not live:
                claims_panel(result, [FIGURES["pcx-fig6a"]])

        experiment_panel(
            PCN_COMPARISON,
            ComparisonConfig(tuple(variants)),
            draw_init,
            key="init",
            train_label="Train the initialisation sweep",
        )
