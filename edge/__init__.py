"""Gateway agents: sensor and camera pipelines, the MQTT publisher, health and remote config."""
