"""Runnable examples of provreg as a library (not installed with the package)."""
