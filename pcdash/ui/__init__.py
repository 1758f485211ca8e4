"""Streamlit glue, the only package that imports streamlit: the server's job manager
(``server``), the job panel every page trains through (``panel``), URL-bound controls
(``state``, ``cre_controls``, ``pcn_controls``), figures with PNG/SVG/CSV export (``export``),
paper notes and presets (``paper``) and what the generative pages share (``generative``)."""
