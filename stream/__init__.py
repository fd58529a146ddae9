"""The Bytewax dataflow that validates, aggregates, stores and alerts on the city's events."""
