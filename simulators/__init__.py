"""Simulated devices: camera scenes with ground truth and sensor scenarios. They talk only MQTT
or the source interfaces the edge uses."""
