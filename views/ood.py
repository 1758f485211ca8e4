"""Generative: energy-based out-of-distribution detection with a PC classifier (PCX paper,
Appendix F, Fig. 19–25)."""

from dataclasses import replace

import numpy as np
import streamlit as st

from pcdash.data import dataset_available
from pcdash.experiments.ood import OOD, OOD_PRESETS, OOD_SETS, default_ood
from pcdash.figures.generative import energy_vs_softmax, ood_histograms, roc_curves
from pcdash.paper import FIGURES
from pcdash.pcn.ood import HARD_QUANTILE, SCORES
from pcdash.ui import state
from pcdash.ui.generative import IMAGE_SETS, PRESET_LABELS, checked, curves, figure, paper_notes
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel
from pcdash.ui.state import dataset_label

st.title("OOD detection")
st.markdown(
    "**Energy-based OOD detection.** A PC classifier's energy with its output clamped to its own "
    "prediction, before and after inference, against the max softmax (Appendix F). Offline the OOD "
    "set is a shifted copy of the test set; MNIST vs FashionMNIST when both are downloaded."
)
paper_notes("ood")
c = st.columns(5)
ood_sets = tuple(s for s in OOD_SETS if s != "fashion_mnist" or dataset_available("fashion_mnist"))
v = {
    "g_ood_preset": state.select(
        "Setting",
        "g_ood_preset",
        OOD_PRESETS,
        "quick",
        format_func=PRESET_LABELS.get,
        container=c[0],
        help="Paper setting: Appendix F's network and optimisers",
    ),
    "g_ood_data": state.select(
        "ID dataset", "g_ood_data", IMAGE_SETS, "digits", format_func=dataset_label, container=c[1]
    ),
    "g_ood_set": state.select("OOD set", "g_ood_set", ood_sets, "noise", container=c[2]),
}
if v["g_ood_preset"] == "quick":
    v["g_ood_epochs"] = state.size("Epochs", "g_ood_epochs", 10, "epochs", container=c[3])
    v["g_ood_T"] = state.size("Test inference steps", "g_ood_T", 50, "steps", container=c[4])
else:
    v["g_ood_paper_epochs"] = state.size(
        "Epochs",
        "g_ood_paper_epochs",
        75,
        "epochs",
        container=c[3],
        help="the paper trains until the test error converges "
        "(early stopping at epoch 75 on MNIST)",
    )
    st.info(
        "Appendix F's setting: 3 × 512 GELU, T = 10 with γ = 0.01 and no momentum, SGD 0.01 with "
        "momentum 0.9, T = 100 at test. 75 epochs take about three minutes on digits with two busy "
        "CPU cores, but they are only 750 weight updates there (MNIST's 75 epochs are thousands): "
        "the classifier is not converged, so its softmax stays low, and the energy after inference "
        "separates worse than before it (digits vs noise: AUROC 0.82 vs 0.98). At 300 epochs (test "
        "accuracy 0.92) the energy after inference separates best (0.993 vs 0.987 before and for "
        "the max softmax), as in the paper."
    )
state.sync_url(v)


def make_ood():
    base = default_ood(v["g_ood_data"], v["g_ood_set"], v["g_ood_preset"])
    if v["g_ood_preset"] == "quick":
        return replace(base, epochs=int(v["g_ood_epochs"]), test_steps=int(v["g_ood_T"]))
    return replace(base, epochs=int(v["g_ood_paper_epochs"]))


ood = checked(make_ood)
if ood is not None:

    def draw_ood(result, live):
        if live:
            curves(result, "g_ood", live=True)
        else:
            auroc = {
                k: result.scalars[f"auroc_{k}"] for k in SCORES if f"auroc_{k}" in result.scalars
            }
            hard = {
                k: result.scalars[f"auroc_hard_{k}"]
                for k in SCORES
                if f"auroc_hard_{k}" in result.scalars
            }
            cols = st.columns(len(auroc) + 1)
            cols[0].metric("Test accuracy", f"{result.scalars.get('test_accuracy', np.nan):.3f}")
            for col, (k, a) in zip(cols[1:], auroc.items(), strict=True):
                col.metric(
                    f"AUROC · {k.replace('_', ' ')}",
                    f"{a:.3f}",
                    help="over the least confident quarter: "
                    + (f"{hard[k]:.3f}" if k in hard else "n/a (only one set there)"),
                )
            scores, roc, roc_hard = (result.tables.get(k) for k in ("scores", "roc", "roc_hard"))
            figure(
                ood,
                "hist",
                result,
                lambda: ood_histograms(scores),
                scores,
                "ood_scores",
                "g_ood_hist",
            )
            a, b = st.columns(2)
            with a:
                figure(
                    ood, "roc", result, lambda: roc_curves(roc, auroc), roc, "ood_roc", "g_ood_roc"
                )
            with b:
                figure(
                    ood,
                    "roc_hard",
                    result,
                    lambda: roc_curves(
                        roc_hard,
                        hard,
                        title=f"ROC · least confident {HARD_QUANTILE:.0%} of each score",
                        empty="Only one of the two sets there, for every score:<br>"
                        "no hard cases to tell apart",
                    ),
                    roc_hard,
                    "ood_roc_hard",
                    "g_ood_roc_hard",
                )
            figure(
                ood,
                "scatter",
                result,
                lambda: energy_vs_softmax(scores),
                None,
                "ood_energy_softmax",
                "g_ood_scatter",
            )
            nll = result.tables.get("nll")
            if nll is not None:
                st.markdown(
                    "**Negative log-likelihood** `−ln p(x, y; θ) = F` (Eq. 7), mean nats per "
                    "example:"
                )
                st.dataframe(nll.round(3), hide_index=True)
            claims_panel(result, [FIGURES["pcx-ood"]])

    experiment_panel(OOD, ood, draw_ood, key="g_ood")
state.report_bad_url_values()
