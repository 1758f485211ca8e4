"""Generative: associative recall of noisy or half-erased stored images (PCX paper, Appendix C.3,
Table 3 and Fig. 5)."""

import streamlit as st

from pcdash.experiments.memory import MEMORY, MemoryConfig, recall_table
from pcdash.figures.generative import recall_heatmap, recall_pictures
from pcdash.paper import FIGURES
from pcdash.parsing import parse_int_list
from pcdash.ui import state
from pcdash.ui.generative import checked, curves, figure, paper_notes
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import claims_panel

st.title("Associative memory")
st.markdown(
    "**Associative memory.** A generative PCN memorises n images; recall relaxes every state, the "
    "sensory layer included, from a noisy (σ = 0.2) or half-erased image, keeping the visible half "
    "fixed (Appendix C.3, Table 3)."
)
paper_notes("memory")
c = st.columns(5)
v = {
    "g_mem_ns": state.text("n images (comma-separated)", "g_mem_ns", "4,16,64", container=c[0]),
    "g_mem_widths": state.text("Widths (comma-separated)", "g_mem_widths", "32,64", container=c[1]),
    "g_mem_steps": state.size("Training steps", "g_mem_steps", 300, "long_steps", container=c[2]),
    "g_mem_recall": state.size("Recall steps", "g_mem_recall", 400, "long_steps", container=c[3]),
    "g_mem_sigma": state.number(
        "Noise σ", "g_mem_sigma", 0.2, min_value=0.0, max_value=2.0, step=0.05, container=c[4]
    ),
}
state.sync_url(v)
mem = checked(
    lambda: MemoryConfig(
        ns=parse_int_list(v["g_mem_ns"], "n images"),
        widths=parse_int_list(v["g_mem_widths"], "widths"),
        train_steps=int(v["g_mem_steps"]),
        recall_steps=int(v["g_mem_recall"]),
        noise_std=float(v["g_mem_sigma"]),
    )
)
if mem is not None:

    def draw_mem(result, live):
        rows = result.tables.get("recall")
        for kind, name in (
            ("noise", f"Gaussian noise σ = {mem.noise_std:g}"),
            ("mask", "bottom half erased"),
        ):
            if live:
                break
            st.subheader(f"Recall from {name}")
            a, b = st.columns([2, 3])
            with a:
                table = recall_table(rows, kind)
                figure(
                    mem,
                    f"heat_{kind}",
                    result,
                    lambda t=table, n=name: recall_heatmap(t, title=f"Recall MSE · {n}"),
                    rows[rows["corruption"] == kind] if rows is not None else None,
                    f"memory_{kind}_table",
                    f"g_mem_heat_{kind}",
                    title_chars=22,  # two fifths of the page: about 250 px on a 1,100 px window
                )
            with b:
                width = max(mem.widths)
                pics = result.arrays.get(f"{kind}_{width}")
                if pics is not None:
                    figure(
                        mem,
                        f"pics_{kind}",
                        result,
                        lambda p=pics, w=width: recall_pictures(
                            p, title=f"n = {min(mem.ns)} · width {w}"
                        ),
                        None,
                        f"memory_{kind}_pictures",
                        f"g_mem_pics_{kind}",
                    )
        curves(result, "g_mem", live=live, title="Reconstruction MSE while memorising")
        if not live:
            claims_panel(result, [FIGURES["pcx-table3"]])

    experiment_panel(MEMORY, mem, draw_mem, key="g_mem")
state.report_bad_url_values()
