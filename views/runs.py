"""Runs: saved results on this machine — browse, export as CSV, delete. Damaged runs are listed
as damaged, with what is wrong and a Delete button."""

import streamlit as st

from pcdash.errors import PcdashError
from pcdash.runs import assets_dir, delete_run, list_runs, load_run
from pcdash.ui import state
from pcdash.ui.server import job_manager

st.title("Runs")
jobs = job_manager().jobs()
active = [j for j in jobs if j.active]
if active:
    st.subheader("Training now")
    for job in active:
        p = job.progress
        st.progress(
            0.0 if p is None else min(max(p.fraction, 0.0), 1.0), text=f"{job.label} · {job.status}"
        )

deleted = st.session_state.pop("_pcdash_deleted", None)
if deleted:
    st.success(f"Deleted run {deleted}.")
shipped = assets_dir()
if shipped is not None:
    with st.expander(
        "Shipped, precomputed results (assets/, read-only): the pages show these until you train "
        "the same configuration yourself"
    ):
        st.dataframe(
            list_runs(shipped).drop(columns=["stopped"]).round({"seconds": 1}),
            hide_index=True,
            width="stretch",
        )
runs = list_runs()
if runs.empty:
    st.info("No saved runs of yours yet: train a sweep on any page and it is kept here.")
else:
    damaged = runs[~runs["status"].isin(["ok", "unverified"])]
    if len(damaged):
        st.warning(
            f"{len(damaged)} saved run(s) are damaged: select one below to see what is wrong and "
            "delete it."
        )
    shown = runs.assign(
        status=runs["status"].where(runs["status"].isin(["ok", "unverified"]), "damaged")
    )
    st.dataframe(shown.round({"seconds": 1}), hide_index=True, width="stretch")
    info = runs.set_index("key")

    def label(k: str) -> str:
        row = info.loc[k]
        if row["status"] not in ("ok", "unverified"):
            return f"{k} · damaged"
        return f"{k} · {row['kind']} · {row['dataset']}"

    key = st.selectbox("Run", runs["key"], format_func=label)
    run = None
    try:
        run = load_run(key)
    except PcdashError as err:
        state.error(err)
    if run is not None:
        if not run.verified:
            st.caption(
                "Saved by an older pcdash, without checksums: its structure was checked, not its "
                "content."
            )
        st.json(run.config, expanded=False)
        st.download_button(
            "Results (CSV)",
            run.frame.to_csv(index=False).encode(),
            file_name=f"pcdash_{key}.csv",
            mime="text/csv",
        )
        for name, table in run.tables.items():  # e.g. OOD scores and ROC curves, recall tables
            st.download_button(
                f"{name} (CSV)",
                table.to_csv(index=False).encode(),
                file_name=f"pcdash_{key}_{name}.csv",
                mime="text/csv",
                key=f"table_{name}",
            )
    if st.button("Delete this run", type="secondary", key="delete_run"):
        try:
            delete_run(key)
        except PcdashError as err:
            state.error(err)
        else:
            job_manager().forget(key)
            st.session_state["_pcdash_deleted"] = key
            st.rerun()
