"""Hypothesis strategies for settings: sizes, scales and seeds, never weight tensors."""
