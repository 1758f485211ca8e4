"""Generative: Monte Carlo predictive coding, Langevin noise in the state updates, and its samples
(PCX paper, Appendix C.2, Fig. 4)."""

from dataclasses import replace

import numpy as np
import streamlit as st

from pcdash.data.iris import IRIS_FEATURE_NAMES
from pcdash.experiments.mcpc import MCPC, MCPC_DATASETS, MCPC_PRESETS, default_mcpc
from pcdash.figures.generative import density_2d, sample_grid
from pcdash.paper import FIGURES
from pcdash.ui import state
from pcdash.ui.generative import PRESET_LABELS, checked, curves, figure, paper_notes
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel

st.title("MCPC sampling")
st.markdown(
    "**Monte Carlo PC.** Langevin noise in the state updates, `Δh = −γ ∇F + √(2γ) N`, `N ~ N(0, "
    "σ²_mcpc)` (Eq. 4); with a state momentum `m > 0`, second-order Langevin dynamics `v ← m v + "
    "∇F + ξ`, `Δh = −γ v`, `ξ ~ N(0, 2σ²(1 − m)/γ)` (Eq. 5–6). Both are one optax chain: "
    "`add_langevin_noise`, `trace(m)`, `scale_by_learning_rate(γ)`. The prior `P(h_0) = N(θ_0, I)` "
    "has a mean θ_0 learned with the weights (§3). Samples: every state free, the latent drawn "
    "from the learned prior, the sensory layer recorded."
)
paper_notes("mcpc")
c = st.columns(5)
preset = state.select(
    "Setting",
    "g_mc_preset",
    MCPC_PRESETS,
    "quick",
    format_func=PRESET_LABELS.get,
    container=c[0],
    help="Paper setting: the iris experiment of Appendix C.2 exactly",
)
if preset == "paper":
    mc = checked(lambda: default_mcpc("iris", "paper"))
    state.sync_url({"g_mc_preset": preset})
    st.info(
        "The paper's iris setting: 10,200 weight updates of 500 noisy inference steps each, then "
        "10,000 sampling steps: about 28 minutes on two busy CPU cores (the noise draws dominate); "
        "the quick setting takes seconds. Its samples separate setosa from the other two species, "
        "as in Fig. 4."
    )
else:
    data = state.select("Dataset", "g_mc_data", MCPC_DATASETS[:4], "iris", container=c[1])
    d0 = default_mcpc(data)
    v = {
        "g_mc_preset": preset,
        "g_mc_data": data,
        "g_mc_epochs": state.size("Epochs", "g_mc_epochs", d0.epochs, "epochs", container=c[2]),
        "g_mc_temp": state.number(
            "Noise σ²_mcpc",
            "g_mc_temp",
            d0.temperature,
            min_value=0.0,
            max_value=10.0,
            step=0.1,
            container=c[3],
        ),
        "g_mc_state_lr": state.number(
            "γ",
            "g_mc_state_lr",
            d0.state_lr,
            min_value=1e-5,
            max_value=1.0,
            fmt_str="%.4g",
            step=0.005,
            container=c[4],
        ),
    }
    c = st.columns(5)
    v["g_mc_steps"] = state.size(
        "Sampling steps", "g_mc_steps", d0.sample_steps, "long_steps", container=c[0]
    )
    v["g_mc_m"] = state.number(
        "State momentum m",
        "g_mc_m",
        d0.momentum,
        min_value=0.0,
        max_value=0.99,
        step=0.1,
        container=c[1],
        help="0: first-order Langevin (Eq. 4); > 0: second order (Eq. 5–6)",
    )
    v["g_mc_T"] = state.size(
        "Training inference steps", "g_mc_T", d0.train_steps, "steps", container=c[2]
    )
    state.sync_url(v)
    mc = checked(
        lambda: replace(
            d0,
            epochs=int(v["g_mc_epochs"]),
            temperature=float(v["g_mc_temp"]),
            state_lr=float(v["g_mc_state_lr"]),
            sample_steps=int(v["g_mc_steps"]),
            momentum=float(v["g_mc_m"]),
            train_steps=int(v["g_mc_T"]),
        )
    )
if mc is not None:

    def draw_mc(result, live):
        if not live:
            s = result.scalars
            st.caption(
                f"Distance to the data — of the first two moments: {s['distance_before']:.3f} "
                f"before training → {s['distance_after']:.3f} after; MMD² (Gaussian kernel, width "
                f"0.5): {s.get('mmd_before', np.nan):.4f} → {s.get('mmd_after', np.nan):.4f}. "
                f"Learned prior mean ‖θ₀‖ = {s.get('prior_mean_norm', np.nan):.3f}."
            )
            image_shape = result.arrays.get("image_shape")
            axes = IRIS_FEATURE_NAMES if mc.dataset == "iris" else ("x₁", "x₂")

            def samples(name: str, title: str):
                if image_shape is not None:
                    return sample_grid(
                        result.arrays[name], tuple(int(i) for i in image_shape), title=title
                    )
                return density_2d(
                    result.arrays["data"], result.arrays[name], title=title, axis_titles=axes
                )

            for col, name, title in zip(
                st.columns(2),
                ("samples_before", "samples"),
                ("Before training", "After training"),
                strict=True,
            ):
                with col:
                    figure(
                        mc,
                        name,
                        result,
                        lambda n=name, t=title: samples(n, t),
                        None,
                        f"mcpc_{name}",
                        f"g_mc_{name}",
                    )
        curves(result, "g_mc", live=live, title="Reconstruction MSE during training")
        if not live:
            claims_panel(result, [FIGURES["pcx-fig4"]])

    experiment_panel(MCPC, mc, draw_mc, key="g_mc")
state.report_bad_url_values()
