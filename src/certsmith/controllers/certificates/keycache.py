"""Parsing the Certificate pipeline's private keys without paying RSA validation every time.

What this module decides, and why:

* Loading an RSA-2048 key with ``cryptography``'s default checks costs ~35 ms (the key
  consistency check); without them ~0.01 ms. The trigger and readiness policies, the key
  manager, the request manager and the issuing controller each parse the same key on every
  reconcile, on the event loop, so one RSA Certificate cost over a second of CPU.
* What is remembered is the SHA-256 digest of PEM bytes that passed the full check once (or
  that certsmith encoded itself from a key it generated or had already validated), never a
  key: no private key stays in memory between reconciles. The same bytes always decode to
  the same key, so skipping the check for bytes already checked changes no outcome, and
  a Secret whose key is replaced has new bytes, which are checked in full.
* The memory is an LRU bounded at :data:`DEFAULT_SIZE` digests (~100 bytes each), enough for
  every Certificate of a large cluster, shared by the controllers of one process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Final

from certsmith.pki.keys import PrivateKey, parse_private_key_pem

#: How many validated key digests are remembered (a few MiB at most).
DEFAULT_SIZE: Final = 50_000


class ValidatedKeys:
    """Parses private key PEMs, validating each distinct PEM in full only once."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        """Remember up to ``size`` digests.

        Raises:
            ValueError: ``size`` is negative.
        """
        if size < 0:
            raise ValueError(f"size must not be negative, got {size}")
        self._size = size
        self._digests: OrderedDict[bytes, None] = OrderedDict()
        self.full_parses = 0  # parses that ran the full check; for tests and the benchmark

    def parse(self, pem: bytes) -> PrivateKey:
        """The first private key in ``pem``; see :func:`certsmith.pki.keys.parse_private_key_pem`.

        Raises:
            certsmith.pki.keys.KeyDecodeError: no usable private key. Failures are not
                remembered: the next call checks in full again.
        """
        digest = hashlib.sha256(pem).digest()
        if digest in self._digests:
            self._digests.move_to_end(digest)
            return parse_private_key_pem(pem, known_valid=True)
        self.full_parses += 1
        key = parse_private_key_pem(pem)
        self._remember(digest)
        return key

    def trust(self, pem: bytes) -> None:
        """Remember ``pem`` as valid: certsmith encoded it from a generated or checked key."""
        self._remember(hashlib.sha256(pem).digest())

    def __len__(self) -> int:
        return len(self._digests)

    def _remember(self, digest: bytes) -> None:
        if self._size == 0:
            return
        self._digests[digest] = None
        self._digests.move_to_end(digest)
        while len(self._digests) > self._size:
            self._digests.popitem(last=False)


#: The process's memory of validated keys, shared by the Certificate controllers.
KEYS: Final = ValidatedKeys()


__all__ = ["DEFAULT_SIZE", "KEYS", "ValidatedKeys"]
