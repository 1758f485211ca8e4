"""Runs: saved results on this machine — browse, export as CSV, delete."""

import streamlit as st

from pcdash.errors import PcdashError
from pcdash.runs import delete_run, list_runs, load_run
from pcdash.ui.widgets import job_manager

st.title("Runs")
jobs = job_manager().jobs()
active = [j for j in jobs if j.active]
if active:
    st.subheader("Training now")
    for job in active:
        p = job.progress
        st.progress(0.0 if p is None else min(p.fraction, 1.0), text=f"{job.label} · {job.status}")

runs = list_runs()
if runs.empty:
    st.info("No saved runs yet: train a sweep on any page and it is kept here.")
else:
    st.dataframe(runs.round({"seconds": 1}), hide_index=True, width="stretch")
    key = st.selectbox("Run", runs["key"], format_func=lambda k: f"{k} · {runs.set_index('key').loc[k, 'kind']} · {runs.set_index('key').loc[k, 'dataset']}")
    try:
        run = load_run(key)
    except PcdashError as err:
        st.error(str(err))
        run = None
    if run is not None:
        st.json(run.config, expanded=False)
        st.download_button("Results (CSV)", run.frame.to_csv(index=False).encode(), file_name=f"pcdash_{key}.csv", mime="text/csv")
        for name, table in run.tables.items():  # e.g. OOD scores and ROC curves, recall tables
            st.download_button(f"{name} (CSV)", table.to_csv(index=False).encode(), file_name=f"pcdash_{key}_{name}.csv",
                               mime="text/csv", key=f"table_{name}")
        if st.button("Delete this run", type="secondary"):
            delete_run(key)
            st.rerun()
