"""Figure builders: pure functions from results (DataFrames, arrays) to plotly Figures."""
