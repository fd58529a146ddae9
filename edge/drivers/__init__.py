"""Sensor drivers: one interface for real gauges and simulated ones."""
