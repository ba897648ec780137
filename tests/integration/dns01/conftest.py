"""bind9 for the DNS-01 integration tests (until tests/conftest.py registers it for all)."""

from tests.peers.bind9 import bind9

__all__ = ["bind9"]
