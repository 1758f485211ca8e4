"""Controls bound to the URL: every widget's value lives in ``st.query_params`` so a link
reproduces the view. A value read from a link is checked like any typed input; a bad one is
reported on the page and replaced by the default.

Messages that may repeat user text (a link's values, a typed list, a file name) go through
:func:`error` / :func:`warning`, which show them as plain text: Streamlit renders markdown in
``st.error``, so a value like ``[x](http://…)`` or ``![x](http://…)`` would otherwise become a
live link or make the browser fetch an image."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from pcdash.parsing import echo

_BAD = "_pcdash_bad_url_values"
# What can open a link, an image, HTML, code, emphasis, LaTeX, an entity or a Streamlit directive
# (:red[…], :material/…:, emoji); "_" only where it can emphasise (not inside a word:
# fashion_mnist).
_MARKUP = re.compile(r"([\\`*\[\]<~$:&])|(?<![^\W_])_|_(?![^\W_])")
# What GitHub-flavoured markdown turns into links by itself, and Streamlit's :icon: shortcodes
_AUTOLINK = re.compile(r"(?i)(://|www\.|@|:(?=[a-z]))")
_JOINER = "\u2060"  # an invisible word joiner: "http\u2060://x" is text, not a link
# URL keys renamed when γ got one name (state_lr): a link made before still opens the same view.
OLD_NAMES = {
    "state_lrs": "gammas",
    "astate_lr": "agamma",
    "cstate_lr": "cgamma",
    "e_state_lr": "e_gamma",
    "g_ae_state_lrs": "g_ae_gammas",
    "g_mc_state_lr": "g_mc_gamma",
    "i_state_lrs": "i_gammas",
}


def plain(text: object) -> str:
    """``text`` as markdown that shows it literally, on one line: the characters that can open
    a link, an image, HTML, code, emphasis, LaTeX or a directive are backslash-escaped, and an
    invisible word joiner keeps ``http://``, ``www.``, ``a@b`` and ``:icon:`` from becoming
    links or icons by themselves."""
    text = _AUTOLINK.sub(
        lambda m: m[0] + _JOINER if m[0] in "@:" else _JOINER + m[0], " ".join(str(text).split())
    )
    return _MARKUP.sub(lambda m: "\\" + m[0], text)


def error(message: object, container: Any = st) -> None:
    """``container.error`` of ``message`` shown as plain text."""
    container.error(plain(message))


def warning(message: object, container: Any = st) -> None:
    """``container.warning`` of ``message`` shown as plain text."""
    container.warning(plain(message))


def _from_url(
    name: str, default: Any, parse: Callable[[str], Any], valid: Callable[[Any], bool]
) -> Any:
    raw = st.query_params.get(name)
    if raw is None and name in OLD_NAMES:
        raw = st.query_params.get(OLD_NAMES[name])
    if raw is None:
        return default
    try:
        value = parse(raw)
        if valid(value):
            return value
    except (TypeError, ValueError):
        pass
    st.session_state.setdefault(_BAD, []).append(f"{name}={echo(raw)}")
    return default


def init_widget(
    name: str,
    default: Any,
    *,
    parse: Callable[[str], Any] = str,
    valid: Callable[[Any], bool] = lambda v: True,
) -> str:
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
        if name in OLD_NAMES and OLD_NAMES[name] in st.query_params:
            del st.query_params[OLD_NAMES[name]]


def fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def report_bad_url_values() -> None:
    bad = st.session_state.pop(_BAD, None)
    if bad:
        warning(
            "Ignored link values that are not valid choices: "
            + ", ".join(bad)
            + ". Defaults are used instead."
        )


def select(
    label: str,
    name: str,
    options: Sequence[Any],
    default: Any,
    *,
    help: str | None = None,
    format_func: Callable[[Any], str] = str,
    container=st,
) -> Any:
    key = init_widget(name, default, parse=type(default), valid=lambda v: v in options)
    return container.selectbox(
        label, options, key=key, help=help, format_func=format_func, on_change=_remember(name)
    )


def cap(name: str) -> int:
    """The cap in force on a size (a field of :class:`pcdash.limits.Limits`, with
    ``$PCDASH_LIMITS``), for a control's largest value: the dashboard offers what the
    configuration accepts and the command line runs, no less and no more. What the budget
    refuses is then said in the configuration's own words."""
    from pcdash.limits import current

    return int(getattr(current(), name))


def size(
    label: str, name: str, default: int, limit: str, *, help: str | None = None, container=st
) -> int:
    """A control for a whole-number size (seeds, epochs, widths, depth, steps, batch ...): from
    1 up to :func:`cap` ``limit``."""
    return number(
        label, name, default, min_value=1, max_value=cap(limit), help=help, container=container
    )


def number(
    label: str,
    name: str,
    default: int | float,
    *,
    min_value,
    max_value,
    step=None,
    help: str | None = None,
    fmt_str: str | None = None,
    container=st,
):
    max_value = max(max_value, default)  # caps lowered below a default: the config says no
    key = init_widget(
        name, default, parse=type(default), valid=lambda v: min_value <= v <= max_value
    )
    return container.number_input(
        label,
        min_value=min_value,
        max_value=max_value,
        step=step,
        key=key,
        help=help,
        format=fmt_str,
        on_change=_remember(name),
    )


def text(label: str, name: str, default: str, *, help: str | None = None, container=st) -> str:
    key = init_widget(name, default)
    return container.text_input(label, key=key, help=help, on_change=_remember(name))


def toggle(label: str, name: str, default: bool, *, help: str | None = None, container=st) -> bool:
    key = init_widget(
        name, default, parse=lambda s: s.lower() in ("1", "true", "yes"), valid=lambda v: True
    )
    return container.toggle(label, key=key, help=help, on_change=_remember(name))


def dataset_label(name: str) -> str:
    """A dataset's name in a select box, marked when its files are not downloaded."""
    from pcdash.data import dataset_available

    return name if dataset_available(name) else f"{name} (not downloaded)"


def cost_summary(config: Any) -> str:
    """``"≈ 40 MB memory, ≈ 2 min by estimate"`` for a validated configuration."""
    from pcdash.limits import estimate

    cost = estimate(config)
    return "" if cost is None else f"{cost.summary()} by estimate"
