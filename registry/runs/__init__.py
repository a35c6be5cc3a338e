"""Training runs: their lifecycle, consumption and the weights they wrote."""
