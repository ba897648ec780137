"""Fixtures shared by every test directory: real peers started on loopback."""

from tests.peers.pebble import pebble, pebble_factory

__all__ = ["pebble", "pebble_factory"]
