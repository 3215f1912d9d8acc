"""Clustering observations into identities (same hands) and identities into campaigns."""
