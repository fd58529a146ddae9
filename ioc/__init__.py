"""Hue IOC: the shared core (wire contract, broker launcher, CLI) of the edge-to-cloud platform."""

__version__ = "0.1.0"
