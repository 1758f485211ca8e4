"""Streamlit glue: background jobs, URL-bound controls, shared widgets. The only package that imports streamlit."""
