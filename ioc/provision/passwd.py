"""Mosquitto password hashes (``$7$``: PBKDF2-SHA512), made here so no tool is needed.

Mosquitto 2.0's ``mosquitto_passwd`` writes ``user:$7$<iterations>$<salt>$<hash>``
with a 12-byte salt and a 64-byte PBKDF2-HMAC-SHA512 digest, both base64; 101
iterations is its default. The broker accepts any iteration count written there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 101
SALT_BYTES = 12


def new_password() -> str:
    """A random password for a machine account (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, *, salt: bytes | None = None,
                   iterations: int = ITERATIONS) -> str:
    """The ``$7$`` hash Mosquitto's ``password_file`` expects for ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return (f"$7${iterations}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}")


def verify(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        raise ValueError(f"not a mosquitto $7$ hash: {hashed[:12]}...")
    salt = base64.b64decode(parts[3])
    expected = mosquitto_hash(password, salt=salt, iterations=int(parts[2]))
    return hmac.compare_digest(expected, hashed)
