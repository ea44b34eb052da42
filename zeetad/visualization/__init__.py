"""Visualisation: detection timelines, AP plots and TensorBoard logging (see issue 8)."""
