"""The cloud HTTP API (FastAPI): police, operators, traffic officers, technicians, admin."""
