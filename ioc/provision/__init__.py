"""Provisioning of broker accounts: devices, the stream, the cloud, and who may touch which topic.

It lives in ``ioc/`` and not in ``edge/``: it runs at the operations centre, next to
the broker, and knows every device; a gateway never installs it. One folder
(``--dir``) holds the registry of accounts (password hashes only), the files
Mosquitto reads (``password_file``, ``acl_file``, a config snippet), the TLS
material, and each new account's credentials (mode 0600) for the technician to
carry to the gateway.
"""
