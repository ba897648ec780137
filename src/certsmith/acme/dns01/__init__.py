"""DNS-01 challenges: write the TXT record, check it propagated, remove it.

The Challenge controller needs only :class:`DNS01Solver` (``present``, ``check``,
``cleanup``), built from :class:`DNS01Settings` and an async ``get_secret(namespace, name)``.
Errors are :class:`DNS01Error`; ``str(err)`` is the text for the Challenge's reason.
"""

from certsmith.acme.dns01.errors import (
    DNS01ConfigError,
    DNS01Error,
    DNSQueryError,
    DNSUpdateError,
    ExecProviderError,
)
from certsmith.acme.dns01.execprovider import EXEC_GROUP_NAME, EXEC_SOLVER_NAME, ExecConfig
from certsmith.acme.dns01.lookup import challenge_fqdn
from certsmith.acme.dns01.nameserver import Nameserver, parse_nameserver
from certsmith.acme.dns01.propagation import (
    PropagationCheckError,
    PropagationResult,
    ServerAnswer,
    not_propagated_message,
)
from certsmith.acme.dns01.provider import ChallengeRequest, DNS01Provider, SecretGetter
from certsmith.acme.dns01.solver import DNS01Settings, DNS01Solver

__all__ = [
    "EXEC_GROUP_NAME",
    "EXEC_SOLVER_NAME",
    "ChallengeRequest",
    "DNS01ConfigError",
    "DNS01Error",
    "DNS01Provider",
    "DNS01Settings",
    "DNS01Solver",
    "DNSQueryError",
    "DNSUpdateError",
    "ExecConfig",
    "ExecProviderError",
    "Nameserver",
    "PropagationCheckError",
    "PropagationResult",
    "SecretGetter",
    "ServerAnswer",
    "challenge_fqdn",
    "not_propagated_message",
    "parse_nameserver",
]
