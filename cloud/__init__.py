"""Cloud side: stores, HTTP API, IOC web page, notifications, retention and audit."""
