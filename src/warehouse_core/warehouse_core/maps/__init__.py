"""Grids, occupancy maps, layouts and their generation, distance tables."""
