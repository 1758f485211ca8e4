"""Classification-reconstruction encoders: models, routed loss, sweeps, baselines."""
