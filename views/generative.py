"""Generative & memory: a PC autoencoder against backprop, Monte Carlo PC samples, associative
recall of noisy or half-erased images and energy-based OOD detection (PCX paper, §4.2,
Appendices C and F). Each tab trains its own small model in the background."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from pcdash.data import dataset_available
from pcdash.data.iris import IRIS_FEATURE_NAMES
from pcdash.errors import PcdashError
from pcdash.figures.generative import (
    density_2d,
    energy_vs_softmax,
    mse_bars,
    ood_histograms,
    recall_heatmap,
    recall_pictures,
    reconstructions,
    roc_curves,
    sample_grid,
    training_curves,
)
from pcdash.paper import FIGURES
from pcdash.paper.pages import TABS
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.pcn.autoencoder import AEConfig, run_autoencoder
from pcdash.pcn.gen_common import load_part, save_part
from pcdash.pcn.mcpc import MCPC_DATASETS, MCPC_PRESETS, default_mcpc, run_mcpc
from pcdash.pcn.memory import MemoryConfig, recall_table, run_memory
from pcdash.pcn.ood import HARD_QUANTILE, OOD_PRESETS, OOD_SETS, SCORES, default_ood, run_ood
from pcdash.ui import state
from pcdash.ui.paper import claims_panel
from pcdash.ui.widgets import dataset_label, job_manager, job_panel, memo, saved_job, show_figure

IMAGE_SETS = tuple(d for d in ("digits", "mnist", "fashion_mnist") if d == "digits" or dataset_available(d))
PRESET_LABELS = {"quick": "Quick (seconds)", "paper": "Paper setting"}

st.title("Generative & memory")
st.caption("A decoder-only PCN infers its top latent with the image clamped at the bottom; with Langevin noise in "
           "the state updates (MCPC) it samples; its energy attracts corrupted memories back and tells familiar "
           "inputs from strange ones (Pinchetti et al., §4.2, Appendices C and F). Everything runs offline on digits.")


def run_part(part: str, config, runner, label: str, body) -> None:
    """The job panel of one tab: the job is keyed by a stable hash of the part's config; a
    finished run is saved to disk and found again after a restart."""
    def start(restart: bool):
        return job_manager().submit(config.key(), label, lambda p, s: runner(config, p, s),
                                    on_done=lambda r: save_part(config, r), restart=restart)

    job_panel(saved_job(config.key(), label, lambda: load_part(config)), start=start, body=body, key=part)


def live_curves(progress, part: str, metric: str = "loss") -> None:
    show_figure(training_curves(progress.frame, metric, title="Training (live)"), progress.frame, f"{part}_live",
                key=f"{part}_live")


def build(config, tag: str, result, fn):
    return memo((config.key(), tag), result, fn)


def paper_notes(tab: str) -> None:
    """Which figure of the paper the tab shows, and how its settings differ (pcdash.paper.pages)."""
    notes = TABS[tab]
    st.caption(f"**Paper:** {notes.shows}")
    with st.expander("Figures and settings: which panel is which paper figure, and what differs from the paper"):
        st.markdown(notes.panels_markdown())
        st.table(notes.settings_frame().set_index("setting"))


def checked(make):
    try:
        return make().validate()
    except PcdashError as err:
        state.error(err)
        return None


tab_ae, tab_mcpc, tab_mem, tab_ood = st.tabs(["Autoencoder", "MCPC sampling", "Associative memory", "OOD detection"])
state.report_bad_url_values()

# ------------------------------------------------------------------ 1. autoencoder
with tab_ae:
    st.markdown("**PC autoencoder vs backprop.** The PC model is only a decoder: for each image the latent "
                "`h_0` (and every hidden state) is inferred with the image clamped at `h_L` (Appendix C.1). "
                "The BP autoencoder adds an encoder MLP to the *same* decoder. Both reconstruct through the "
                "bottleneck: PC decodes the inferred `h_0` top-down with nothing clamped (§4).")
    paper_notes("autoencoder")
    a0 = AEConfig()
    c = st.columns(5)
    v = {"g_ae_data": state.select("Dataset", "g_ae_data", IMAGE_SETS, a0.dataset, format_func=dataset_label,
                                   container=c[0]),
         "g_ae_latent": state.number("Latent size", "g_ae_latent", a0.latent, min_value=1, max_value=256,
                                     container=c[1]),
         "g_ae_hidden": state.number("Hidden width", "g_ae_hidden", a0.hidden, min_value=1, max_value=1024,
                                     container=c[2]),
         "g_ae_gammas": state.text("γ (comma-separated)", "g_ae_gammas", ",".join(f"{g:g}" for g in a0.gammas),
                                   container=c[3]),
         "g_ae_epochs": state.number("Epochs", "g_ae_epochs", a0.epochs, min_value=1, max_value=200, container=c[4])}
    c = st.columns(5)
    v["g_ae_T"] = state.number("Inference steps T", "g_ae_T", a0.inference_steps, min_value=1, max_value=200,
                               container=c[0], help="in training and at test, as in PCX")
    v["g_ae_seeds"] = state.number("Seeds", "g_ae_seeds", a0.seeds, min_value=1, max_value=5, container=c[1])
    v["g_ae_batch"] = state.number("Batch size", "g_ae_batch", a0.batch_size, min_value=1, max_value=1024,
                                   container=c[2])
    v["g_ae_m"] = state.number("State momentum", "g_ae_m", a0.state_momentum, min_value=0.0, max_value=0.95,
                               step=0.05, container=c[3], help="of the SGD on the states (Table 9 searches 0 … 0.95)")
    state.sync_url(v)
    ae = checked(lambda: AEConfig(dataset=v["g_ae_data"], latent=int(v["g_ae_latent"]), hidden=int(v["g_ae_hidden"]),
                                  gammas=parse_float_list(v["g_ae_gammas"], "γ"), epochs=int(v["g_ae_epochs"]),
                                  inference_steps=int(v["g_ae_T"]), seeds=int(v["g_ae_seeds"]),
                                  batch_size=int(v["g_ae_batch"]), state_momentum=float(v["g_ae_m"])))
    if ae is not None:
        def ae_body(result, live):
            if live:
                live_curves(result, "g_ae", "test_mse")
                return
            a, b = st.columns(2)
            with a:
                show_figure(build(ae, "recon", result, lambda: reconstructions(result.arrays)), None,
                            "ae_reconstructions", key="g_ae_recon")
            with b:
                table = result.tables.get("mse")
                show_figure(build(ae, "bars", result, lambda: mse_bars(table)), table, "ae_test_mse", key="g_ae_bars")
            show_figure(build(ae, "curves", result, lambda: training_curves(result.frame, "test_mse",
                                                                             title="Test MSE over training",
                                                                             y_title="Test MSE (per pixel)")),
                        result.frame, "ae_curves", key="g_ae_curves")
            claims_panel(result, [FIGURES["pcx-table2"]])

        run_part("g_ae", ae, run_autoencoder, f"PC vs BP autoencoder · {ae.dataset}", ae_body)

# ------------------------------------------------------------------ 2. MCPC
with tab_mcpc:
    st.markdown("**Monte Carlo PC.** Langevin noise in the state updates, `Δh = −γ ∇F + √(2γ) N`, "
                "`N ~ N(0, σ²_mcpc)` (Eq. 4); with a state momentum `m > 0`, second-order Langevin dynamics "
                "`v ← m v + ∇F + ξ`, `Δh = −γ v`, `ξ ~ N(0, 2σ²(1 − m)/γ)` (Eq. 5–6). Both are one optax chain: "
                "`add_langevin_noise`, `trace(m)`, `scale_by_learning_rate(γ)`. The prior `P(h_0) = N(θ_0, I)` has a "
                "mean θ_0 learned with the weights (§3). Samples: every state free, the latent drawn from the learned "
                "prior, the sensory layer recorded.")
    paper_notes("mcpc")
    c = st.columns(5)
    preset = state.select("Setting", "g_mc_preset", MCPC_PRESETS, "quick", format_func=PRESET_LABELS.get,
                          container=c[0], help="Paper setting: the iris experiment of Appendix C.2 exactly")
    if preset == "paper":
        mc = checked(lambda: default_mcpc("iris", "paper"))
        state.sync_url({"g_mc_preset": preset})
        st.info("The paper's iris setting: 10,200 weight updates of 500 noisy inference steps each, then 10,000 "
                "sampling steps: about 28 minutes on two busy CPU cores (the noise draws dominate); the quick setting "
                "takes seconds. Its samples separate setosa from the other two species, as in Fig. 4.")
    else:
        data = state.select("Dataset", "g_mc_data", MCPC_DATASETS[:4], "iris", container=c[1])
        d0 = default_mcpc(data)
        v = {"g_mc_preset": preset, "g_mc_data": data,
             "g_mc_epochs": state.number("Epochs", "g_mc_epochs", d0.epochs, min_value=1, max_value=200,
                                         container=c[2]),
             "g_mc_temp": state.number("Noise σ²_mcpc", "g_mc_temp", d0.temperature, min_value=0.0, max_value=10.0,
                                       step=0.1, container=c[3]),
             "g_mc_gamma": state.number("γ", "g_mc_gamma", d0.gamma, min_value=1e-5, max_value=1.0, fmt_str="%.4g",
                                        step=0.005, container=c[4])}
        c = st.columns(5)
        v["g_mc_steps"] = state.number("Sampling steps", "g_mc_steps", d0.sample_steps, min_value=1, max_value=20000,
                                       container=c[0])
        v["g_mc_m"] = state.number("State momentum m", "g_mc_m", d0.momentum, min_value=0.0, max_value=0.99,
                                   step=0.1, container=c[1],
                                   help="0: first-order Langevin (Eq. 4); > 0: second order (Eq. 5–6)")
        v["g_mc_T"] = state.number("Training inference steps", "g_mc_T", d0.train_steps, min_value=1, max_value=5000,
                                   container=c[2])
        state.sync_url(v)
        mc = checked(lambda: replace(d0, epochs=int(v["g_mc_epochs"]), temperature=float(v["g_mc_temp"]),
                                     gamma=float(v["g_mc_gamma"]), sample_steps=int(v["g_mc_steps"]),
                                     momentum=float(v["g_mc_m"]), train_steps=int(v["g_mc_T"])))
    if mc is not None:
        def mc_body(result, live):
            if live:
                live_curves(result, "g_mc")
                return
            s = result.scalars
            st.caption(f"Distance to the data — of the first two moments: {s['distance_before']:.3f} before training "
                       f"→ {s['distance_after']:.3f} after; MMD² (Gaussian kernel, width 0.5): "
                       f"{s.get('mmd_before', np.nan):.4f} → {s.get('mmd_after', np.nan):.4f}. Learned prior mean "
                       f"‖θ₀‖ = {s.get('prior_mean_norm', np.nan):.3f}.")
            a, b = st.columns(2)
            for col, key, title in ((a, "samples_before", "Before training"), (b, "samples", "After training")):
                with col:
                    if "image_shape" in result.arrays:
                        shape = tuple(int(i) for i in result.arrays["image_shape"])
                        fig = build(mc, key, result, lambda k=key, t=title, s=shape: sample_grid(result.arrays[k], s, title=t))
                    else:
                        axes = IRIS_FEATURE_NAMES if mc.dataset == "iris" else ("x₁", "x₂")
                        fig = build(mc, key, result, lambda k=key, t=title, a=axes: density_2d(
                            result.arrays["data"], result.arrays[k], title=t, axis_titles=a))
                    show_figure(fig, None, f"mcpc_{key}", key=f"g_mc_{key}")
            show_figure(training_curves(result.frame, title="Reconstruction MSE during training"), result.frame,
                        "mcpc_curves", key="g_mc_curves")
            claims_panel(result, [FIGURES["pcx-fig4"]])

        run_part("g_mc", mc, run_mcpc, f"MCPC · {mc.dataset}", mc_body)

# ------------------------------------------------------------------ 3. associative memory
with tab_mem:
    st.markdown("**Associative memory.** A generative PCN memorises n images; recall relaxes every state, the "
                "sensory layer included, from a noisy (σ = 0.2) or half-erased image, keeping the visible half "
                "fixed (Appendix C.3, Table 3).")
    paper_notes("memory")
    c = st.columns(5)
    v = {"g_mem_ns": state.text("n images (comma-separated)", "g_mem_ns", "4,16,64", container=c[0]),
         "g_mem_widths": state.text("Widths (comma-separated)", "g_mem_widths", "32,64", container=c[1]),
         "g_mem_steps": state.number("Training steps", "g_mem_steps", 300, min_value=1, max_value=5000, container=c[2]),
         "g_mem_recall": state.number("Recall steps", "g_mem_recall", 400, min_value=1, max_value=20000, container=c[3]),
         "g_mem_sigma": state.number("Noise σ", "g_mem_sigma", 0.2, min_value=0.0, max_value=2.0, step=0.05,
                                     container=c[4])}
    state.sync_url(v)
    mem = checked(lambda: MemoryConfig(ns=parse_int_list(v["g_mem_ns"], "n images"),
                                       widths=parse_int_list(v["g_mem_widths"], "widths"),
                                       train_steps=int(v["g_mem_steps"]), recall_steps=int(v["g_mem_recall"]),
                                       noise_std=float(v["g_mem_sigma"])))
    if mem is not None:
        def mem_body(result, live):
            if live:
                live_curves(result, "g_mem")
                return
            rows = result.tables.get("recall")
            for kind, name in (("noise", f"Gaussian noise σ = {mem.noise_std:g}"), ("mask", "bottom half erased")):
                st.subheader(f"Recall from {name}")
                a, b = st.columns([2, 3])
                with a:
                    table = recall_table(rows, kind)
                    show_figure(build(mem, f"heat_{kind}", result, lambda t=table, n=name: recall_heatmap(
                        t, title=f"Recall MSE · {n}")), rows[rows["corruption"] == kind] if rows is not None else None,
                                f"memory_{kind}_table", key=f"g_mem_heat_{kind}")
                with b:
                    width = max(mem.widths)
                    pics = result.arrays.get(f"{kind}_{width}")
                    if pics is not None:
                        show_figure(build(mem, f"pics_{kind}", result, lambda p=pics, w=width: recall_pictures(
                            p, title=f"n = {min(mem.ns)} · width {w}")), None, f"memory_{kind}_pictures",
                                    key=f"g_mem_pics_{kind}")
            show_figure(training_curves(result.frame, title="Reconstruction MSE while memorising"), result.frame,
                        "memory_curves", key="g_mem_curves")
            claims_panel(result, [FIGURES["pcx-table3"]])

        run_part("g_mem", mem, run_memory, f"Associative memory · {len(mem.widths)} widths", mem_body)

# ------------------------------------------------------------------ 4. OOD
with tab_ood:
    st.markdown("**Energy-based OOD detection.** A PC classifier's energy with its output clamped to its own "
                "prediction, before and after inference, against the max softmax (Appendix F). Offline the OOD "
                "set is a shifted copy of the test set; MNIST vs FashionMNIST when both are downloaded.")
    paper_notes("ood")
    c = st.columns(5)
    ood_sets = tuple(s for s in OOD_SETS if s != "fashion_mnist" or dataset_available("fashion_mnist"))
    v = {"g_ood_preset": state.select("Setting", "g_ood_preset", OOD_PRESETS, "quick", format_func=PRESET_LABELS.get,
                                      container=c[0], help="Paper setting: Appendix F's network and optimisers"),
         "g_ood_data": state.select("ID dataset", "g_ood_data", IMAGE_SETS, "digits", format_func=dataset_label,
                                    container=c[1]),
         "g_ood_set": state.select("OOD set", "g_ood_set", ood_sets, "noise", container=c[2])}
    if v["g_ood_preset"] == "quick":
        v["g_ood_epochs"] = state.number("Epochs", "g_ood_epochs", 10, min_value=1, max_value=200, container=c[3])
        v["g_ood_T"] = state.number("Test inference steps", "g_ood_T", 50, min_value=1, max_value=1000,
                                    container=c[4])
    else:
        v["g_ood_paper_epochs"] = state.number("Epochs", "g_ood_paper_epochs", 75, min_value=1, max_value=2000,
                                               container=c[3], help="the paper trains until the test error converges "
                                               "(early stopping at epoch 75 on MNIST)")
        st.info("Appendix F's setting: 3 × 512 GELU, T = 10 with γ = 0.01 and no momentum, SGD 0.01 with momentum "
                "0.9, T = 100 at test. 75 epochs take about three minutes on digits with two busy CPU cores, but "
                "they are only 750 weight updates there (MNIST's 75 epochs are thousands): the classifier is not "
                "converged, so its softmax stays low, and the energy after inference separates worse than before it "
                "(digits vs noise: AUROC 0.82 vs 0.98). At 300 epochs (test accuracy 0.92) the energy after "
                "inference separates best (0.993 vs 0.987 before and for the max softmax), as in the paper.")
    state.sync_url(v)

    def make_ood():
        base = default_ood(v["g_ood_data"], v["g_ood_set"], v["g_ood_preset"])
        if v["g_ood_preset"] == "quick":
            return replace(base, epochs=int(v["g_ood_epochs"]), test_steps=int(v["g_ood_T"]))
        return replace(base, epochs=int(v["g_ood_paper_epochs"]))

    ood = checked(make_ood)
    if ood is not None:
        def ood_body(result, live):
            if live:
                live_curves(result, "g_ood")
                return
            auroc = {k: result.scalars[f"auroc_{k}"] for k in SCORES if f"auroc_{k}" in result.scalars}
            hard = {k: result.scalars[f"auroc_hard_{k}"] for k in SCORES if f"auroc_hard_{k}" in result.scalars}
            cols = st.columns(len(auroc) + 1)
            cols[0].metric("Test accuracy", f"{result.scalars.get('test_accuracy', np.nan):.3f}")
            for col, (k, a) in zip(cols[1:], auroc.items(), strict=True):
                col.metric(f"AUROC · {k.replace('_', ' ')}", f"{a:.3f}",
                           help="over the least confident quarter: " + (f"{hard[k]:.3f}" if k in hard else
                                                                         "n/a (only one set there)"))
            scores = result.tables.get("scores")
            show_figure(build(ood, "hist", result, lambda: ood_histograms(scores)), scores, "ood_scores", key="g_ood_hist")
            a, b = st.columns(2)
            with a:
                roc = result.tables.get("roc")
                show_figure(build(ood, "roc", result, lambda: roc_curves(roc, auroc)), roc, "ood_roc", key="g_ood_roc")
            with b:
                roc_hard = result.tables.get("roc_hard")
                show_figure(build(ood, "roc_hard", result, lambda: roc_curves(
                    roc_hard, hard, title=f"ROC · least confident {HARD_QUANTILE:.0%} of each score",
                    empty="Only one of the two sets there, for every score:<br>no hard cases to tell apart")), roc_hard,
                            "ood_roc_hard", key="g_ood_roc_hard")
            show_figure(build(ood, "scatter", result, lambda: energy_vs_softmax(scores)), None, "ood_energy_softmax",
                        key="g_ood_scatter")
            nll = result.tables.get("nll")
            if nll is not None:
                st.markdown("**Negative log-likelihood** `−ln p(x, y; θ) = F` (Eq. 7), mean nats per example:")
                st.dataframe(nll.round(3), hide_index=True)
            claims_panel(result, [FIGURES["pcx-ood"]])

        run_part("g_ood", ood, run_ood, f"OOD · {ood.dataset} vs {ood.ood}", ood_body)
