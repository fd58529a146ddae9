"""Sensor scenarios (a flood on the Hương River, ...) played through the edge's driver interface."""
