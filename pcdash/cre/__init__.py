"""Classification-reconstruction encoders as pure code: the CRE module and its shared parts
(``base``), the architectures (``models`` for the FC variants, ``cnn``, ``vit``), the routed loss
(``losses``), the engine's Algorithm (``algorithm``) and the PCA/RP baselines (``baselines``).
Sweeps over them live in :mod:`pcdash.experiments.cre_sweep`."""
