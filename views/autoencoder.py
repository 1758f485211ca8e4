"""Generative: a decoder-only PC autoencoder against a backprop autoencoder with the same decoder
(PCX paper, Appendix C.1, Table 2 and Fig. 3)."""

import streamlit as st

from pcdash.experiments.autoencoder import AUTOENCODER, AEConfig
from pcdash.figures.generative import mse_bars, reconstructions
from pcdash.paper import FIGURES
from pcdash.parsing import parse_float_list
from pcdash.ui import state
from pcdash.ui.generative import IMAGE_SETS, checked, curves, figure, paper_notes
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel
from pcdash.ui.state import dataset_label

st.title("Autoencoder: PC vs backprop")
st.markdown(
    "**PC autoencoder vs backprop.** The PC model is only a decoder: for each image the latent "
    "`h_0` (and every hidden state) is inferred with the image clamped at `h_L` (Appendix C.1). "
    "The BP autoencoder adds an encoder MLP to the *same* decoder. Both reconstruct through the "
    "bottleneck: PC decodes the inferred `h_0` top-down with nothing clamped (§4)."
)
paper_notes("autoencoder")
a0 = AEConfig()
c = st.columns(5)
v = {
    "g_ae_data": state.select(
        "Dataset", "g_ae_data", IMAGE_SETS, a0.dataset, format_func=dataset_label, container=c[0]
    ),
    "g_ae_latent": state.size(
        "Latent size", "g_ae_latent", a0.latent, "latent_dim", container=c[1]
    ),
    "g_ae_hidden": state.size("Hidden width", "g_ae_hidden", a0.hidden, "width", container=c[2]),
    "g_ae_state_lrs": state.text(
        "γ (comma-separated)",
        "g_ae_state_lrs",
        ",".join(f"{g:g}" for g in a0.state_lrs),
        container=c[3],
    ),
    "g_ae_epochs": state.size("Epochs", "g_ae_epochs", a0.epochs, "epochs", container=c[4]),
}
c = st.columns(5)
v["g_ae_T"] = state.size(
    "Inference steps T",
    "g_ae_T",
    a0.inference_steps,
    "steps",
    container=c[0],
    help="in training and at test, as in PCX",
)
v["g_ae_seeds"] = state.size("Seeds", "g_ae_seeds", a0.seeds, "seeds", container=c[1])
v["g_ae_batch"] = state.size("Batch size", "g_ae_batch", a0.batch_size, "batch", container=c[2])
v["g_ae_m"] = state.number(
    "State momentum",
    "g_ae_m",
    a0.state_momentum,
    min_value=0.0,
    max_value=0.95,
    step=0.05,
    container=c[3],
    help="of the SGD on the states (Table 9 searches 0 … 0.95)",
)
state.sync_url(v)
ae = checked(
    lambda: AEConfig(
        dataset=v["g_ae_data"],
        latent=int(v["g_ae_latent"]),
        hidden=int(v["g_ae_hidden"]),
        state_lrs=parse_float_list(v["g_ae_state_lrs"], "γ"),
        epochs=int(v["g_ae_epochs"]),
        inference_steps=int(v["g_ae_T"]),
        seeds=int(v["g_ae_seeds"]),
        batch_size=int(v["g_ae_batch"]),
        state_momentum=float(v["g_ae_m"]),
    )
)
if ae is not None:

    def draw_ae(result, live):
        if not live:
            a, b = st.columns(2)
            with a:
                figure(
                    ae,
                    "recon",
                    result,
                    lambda: reconstructions(result.arrays),
                    None,
                    "ae_reconstructions",
                    "g_ae_recon",
                )
            with b:
                table = result.tables.get("mse")
                figure(
                    ae, "bars", result, lambda: mse_bars(table), table, "ae_test_mse", "g_ae_bars"
                )
        curves(
            result,
            "g_ae",
            "mse",
            split="test",
            live=live,
            title="Test MSE over training",
            y_title="Test MSE (per pixel)",
        )
        if not live:
            claims_panel(result, [FIGURES["pcx-table2"]])

    experiment_panel(AUTOENCODER, ae, draw_ae, key="g_ae")
state.report_bad_url_values()
