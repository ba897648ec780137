"""Helpers every layer may use: time, secrets that must not leak, logging."""
