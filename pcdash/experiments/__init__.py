"""Experiments: what the dashboard's pages and the command line run, built on the pure
library (:mod:`pcdash.pcn`, :mod:`pcdash.cre`) and trained through the one engine
(:mod:`pcdash.engine`, :func:`pcdash.sweep.run_groups`), each yielding the one result schema
(:mod:`pcdash.results`) and kept under its configuration's key (:mod:`pcdash.config`).

Named after what they run: ``pcn_config`` and ``pcn_sweep`` (a PCN grid: width × γ × weight
optimiser × seed), ``comparison`` (learning rules side by side), ``conditions`` (the BP-vs-PC
comparison's models and landscapes), ``pcx_settings`` (the PCX paper's §5.1 settings),
``autoencoder``, ``mcpc``, ``memory`` and ``ood`` (the generative parts), ``result`` (what they
share: :class:`~pcdash.experiments.result.Experiment`), ``plan`` (paper-scale grids and their
cost) and ``cli`` (the commands). This package is imported lazily: importing it loads nothing.
"""
