"""Plots people want to look at: gate maps, reconstructions, attention."""

from mmzoo.viz.gates import plane_grid, plot_gate_map

__all__ = ["plane_grid", "plot_gate_map"]
