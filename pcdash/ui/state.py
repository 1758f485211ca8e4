"""Controls bound to the URL: every widget's value lives in ``st.query_params`` so a link
reproduces the view. A value read from a link is checked like any typed input; a bad one is
reported on the page and replaced by the default."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

_BAD = "_pcdash_bad_url_values"


def _from_url(name: str, default: Any, parse: Callable[[str], Any], valid: Callable[[Any], bool]) -> Any:
    raw = st.query_params.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
        if valid(value):
            return value
    except (TypeError, ValueError):
        pass
    st.session_state.setdefault(_BAD, []).append(f"{name}={raw!r}")
    return default


def init_widget(name: str, default: Any, *, parse: Callable[[str], Any] = str, valid: Callable[[Any], bool] = lambda v: True) -> str:
    """Seed widget ``name`` from the URL (first run) or from its remembered value; returns the
    widget key. Streamlit forgets a widget's state when the page changes, so the value is kept
    under a second, non-widget key and copied back before the widget is drawn."""
    key, store = f"w_{name}", f"v_{name}"
    if store not in st.session_state:
        st.session_state[store] = _from_url(name, default, parse, valid)
    st.session_state[key] = st.session_state[store]
    return key


def _remember(name: str) -> Callable[[], None]:
    def callback() -> None:
        st.session_state[f"v_{name}"] = st.session_state[f"w_{name}"]

    return callback


def sync_url(values: dict[str, Any]) -> None:
    """Write the current control values into the URL (only those that changed)."""
    for name, value in values.items():
        text = fmt(value)
        if st.query_params.get(name) != text:
            st.query_params[name] = text


def fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def report_bad_url_values() -> None:
    bad = st.session_state.pop(_BAD, None)
    if bad:
        st.warning("Ignored link values that are not valid choices: " + ", ".join(bad) + ". Defaults are used instead.")


def select(label: str, name: str, options: Sequence[Any], default: Any, *, help: str | None = None,
           format_func: Callable[[Any], str] = str, container=st) -> Any:
    key = init_widget(name, default, parse=type(default), valid=lambda v: v in options)
    return container.selectbox(label, options, key=key, help=help, format_func=format_func, on_change=_remember(name))


def number(label: str, name: str, default: int | float, *, min_value, max_value, step=None, help: str | None = None,
           fmt_str: str | None = None, container=st):
    key = init_widget(name, default, parse=type(default), valid=lambda v: min_value <= v <= max_value)
    return container.number_input(label, min_value=min_value, max_value=max_value, step=step, key=key, help=help,
                                  format=fmt_str, on_change=_remember(name))


def text(label: str, name: str, default: str, *, help: str | None = None, container=st) -> str:
    key = init_widget(name, default)
    return container.text_input(label, key=key, help=help, on_change=_remember(name))


def toggle(label: str, name: str, default: bool, *, help: str | None = None, container=st) -> bool:
    key = init_widget(name, default, parse=lambda s: s.lower() in ("1", "true", "yes"), valid=lambda v: True)
    return container.toggle(label, key=key, help=help, on_change=_remember(name))
