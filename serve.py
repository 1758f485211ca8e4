"""Launcher: ``streamlit run serve.py`` serves the dashboard (``app.py``) and starts warming up
the default sweep's compiled programs as the server starts, before any browser connects."""

import contextlib

import streamlit as st


@contextlib.asynccontextmanager
async def _warm_up_at_start(app):
    from pcdash.ui.server import job_manager

    job_manager()  # created now: its warm-up runs in a background thread
    yield


app = st.App("app.py", lifespan=_warm_up_at_start)
