"""Gateway configs for deployments (YAML), validated by the edge's typed schemas."""
