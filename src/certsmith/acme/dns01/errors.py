"""Errors of the DNS-01 solver; their text is what a Challenge's ``status.reason`` shows.

Every message names the record, zone, server or key involved and never a secret (TSIG secrets
and exec-provider credentials are redacted before they could reach a message).
"""

from __future__ import annotations

from certsmith.api.errors import CertsmithError


class DNS01Error(CertsmithError):
    """A DNS-01 present, cleanup or check failed; ``str(err)`` is the user-facing reason."""


class DNS01ConfigError(DNS01Error):
    """The solver configuration (or a Secret it names) cannot be used as it is."""


class DNSQueryError(DNS01Error):
    """No nameserver gave a usable answer to a lookup (timeouts, refused connections)."""


class DNSUpdateError(DNS01Error):
    """An RFC 2136 UPDATE was answered with an error, or could not be sent."""


class ExecProviderError(DNS01Error):
    """The exec provider's command failed, timed out or could not be started."""
