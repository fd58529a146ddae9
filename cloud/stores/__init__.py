"""Stores behind small interfaces; the stream writes through these and nothing else of cloud/."""
