"""Fixtures shared by every test directory: real peers started on loopback."""

from tests.peers.arishim import ari_shim
from tests.peers.bind9 import bind9
from tests.peers.pebble import pebble, pebble_factory

__all__ = ["ari_shim", "bind9", "pebble", "pebble_factory"]
