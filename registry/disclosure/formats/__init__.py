"""Renderers: one module per format, each a pure ``render(facts, inputs) -> bytes``."""
