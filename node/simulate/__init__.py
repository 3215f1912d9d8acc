"""Synthetic attack traffic with ground truth, for measuring the clusterer."""
