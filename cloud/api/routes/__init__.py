"""Endpoints, one module per audience."""
