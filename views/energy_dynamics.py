"""Energy dynamics: per-layer energies over inference steps (live, and for a chosen batch
afterwards), accuracy vs γ for SGD vs AdamW (Fig. 6c), the energy ratio vs γ (Fig. 6d) and the
width × γ accuracy grid (Fig. 7) of the PCX paper."""

import numpy as np
import streamlit as st

from pcdash.data import load_dataset
from pcdash.figures.pcn import (
    accuracy_vs_gamma,
    energy_per_layer_over_epochs,
    energy_ratio_vs_gamma,
    energy_vs_step,
    energy_vs_step_grid,
    pcn_training_curves,
    width_gamma_grid,
)
from pcdash.pcn import energy_trace_for_batch
from pcdash.results import final_rows
from pcdash.ui import state
from pcdash.ui.pcn_controls import pcn_result, pcn_sidebar, start_pcn_job
from pcdash.ui.widgets import job_panel, show_figure

st.title("Energy dynamics")
st.caption("How the energy F = Σ ½‖h_l − μ_l‖² flows back from the output during inference, and how the state "
           "learning rate γ, the optimiser and the width shape learning (Pinchetti et al., §5.1).")
config = pcn_sidebar()

if config is not None:
    pick = st.columns(4)
    width = state.select("Width", "e_width", tuple(config.widths), config.widths[0], container=pick[0])
    optimizer = state.select("Weight optimiser", "e_opt", tuple(config.optimizers), config.optimizers[0], container=pick[1])
    gamma = state.select("γ", "e_gamma", tuple(config.gammas), config.gammas[0], container=pick[2],
                        format_func=lambda g: "— (backprop)" if g != g else f"{g:g}")
    seed = state.select("Seed", "e_seed", tuple(range(config.seeds)), 0, container=pick[3])
    state.sync_url({"e_width": width, "e_opt": optimizer, "e_gamma": gamma, "e_seed": seed})

    def member_of(members):
        same_gamma = np.isclose(members["state_lr"], gamma, equal_nan=True)
        rows = members[(members["width"] == width) & (members["optimizer"] == optimizer) & same_gamma & (members["seed"] == seed)]
        return None if rows.empty else int(rows.index[0])

    def draw(result, live):
        tag = "live" if live else "done"
        frame = result.frame
        members = (result.extras["members"] if live else result.members).reset_index(drop=True)
        trace = result.extras.get("energy_trace") if live else result.energy_trace
        row = member_of(members)
        st.subheader("Energies during inference")
        left, right = st.columns(2)
        with left:
            if trace is None or row is None or not np.isfinite(trace[row]).any():
                st.info("Energies of this model appear after its first epoch (or it diverged).")
            else:
                fig = energy_vs_step(trace[row], title=f"Last training batch · γ = {gamma:g} · {optimizer} · width {width}")
                show_figure(fig, None, "energy_vs_step", key=f"evs_{tag}")
        with right:
            chosen = members[(members["width"] == width) & (members["optimizer"] == optimizer)]
            if trace is not None and len(chosen):
                show_figure(energy_vs_step_grid(trace[chosen.index.to_numpy()], chosen.reset_index(drop=True)), None,
                            "energy_vs_step_per_gamma", key=f"evsg_{tag}")
        if not live and row is not None and config.algorithm.startswith("pc"):
            with st.expander("Energies on a batch you choose (trained weights, nothing updated)"):
                data = load_dataset(config.dataset, val_fraction=config.val_fraction)
                n_batches = max(1, len(data.y_test) // config.batch_size)
                b = st.number_input("Test batch", 0, n_batches - 1, 0, key="e_batch")
                sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
                chosen_trace = energy_trace_for_batch(result, data.x_test[sl], data.y_test[sl])
                show_figure(energy_vs_step(chosen_trace[row], title=f"Test batch {b}"), None, "energy_chosen_batch",
                            key="evs_batch")
        mine = frame[frame["member"] == members.loc[row, "member"]] if row is not None and len(frame) else frame.iloc[0:0]
        show_figure(energy_per_layer_over_epochs(mine), mine, "energy_over_epochs", key=f"eoe_{tag}")
        st.subheader("State learning rate, optimiser and width")
        a, b = st.columns(2)
        with a:
            show_figure(accuracy_vs_gamma(frame), final_rows(frame, "test"), "accuracy_vs_gamma", key=f"avg_{tag}")
        with b:
            show_figure(energy_ratio_vs_gamma(frame), final_rows(frame, "train"), "energy_ratio_vs_gamma", key=f"erg_{tag}")
        a, b = st.columns(2)
        with a:
            show_figure(width_gamma_grid(frame), final_rows(frame, "test"), "width_gamma_grid", key=f"wg_{tag}")
        with b:
            show_figure(pcn_training_curves(frame), frame[frame["split"].isin(["train", "val"])], "pcn_training_curves",
                        key=f"ptc_{tag}")
        diverged = frame.groupby("member")["diverged"].any().sum() if len(frame) else 0
        if diverged:
            st.warning(f"{int(diverged)} model(s) diverged (NaN/inf); they are left out of the plots and marked in the grid.")

    job_panel(pcn_result(config), start=lambda restart: start_pcn_job(config, restart=restart), body=draw, key="energy")
