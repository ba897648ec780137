"""The certificate-shim flags of ``certsmith serve`` and ``certsmith controller``.

cert-manager's names and defaults (``--default-issuer-name``, ``--default-issuer-kind``,
``--default-issuer-group``, ``--auto-certificate-annotations``,
``--extra-certificate-annotations``, ``--enable-gateway-api``, ``--gateway-api-extra-protocols``),
plus certsmith's ``--enable-istio-gateway``. Lists are comma-separated, booleans accept Go's
``--flag``, ``--flag=true`` and ``--flag=false``.

The Gateway opt-ins default to on for ``serve`` (the embedded server always serves the Gateway
API and Istio Gateway types) and off for ``controller``, as in cert-manager: on a cluster without
those CRDs their informers would never sync and no controller would start.
"""

from __future__ import annotations

import argparse

from certsmith.controllers.shims.annotations import (
    DEFAULT_AUTO_ANNOTATIONS,
    DEFAULT_ISSUER_GROUP,
    DEFAULT_ISSUER_KIND,
    IssuerDefaults,
)
from certsmith.controllers.shims.sync import ShimOptions

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _go_bool(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def add_shim_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the shim flags (see the module docstring)."""
    group = parser.add_argument_group("certificate shims (Ingress, Gateway)")
    group.add_argument(
        "--default-issuer-name",
        default="",
        metavar="NAME",
        help="issuer of an Ingress that asks for TLS without naming one (default none)",
    )
    group.add_argument(
        "--default-issuer-kind",
        default=DEFAULT_ISSUER_KIND,
        metavar="KIND",
        help=f"kind of that issuer (default {DEFAULT_ISSUER_KIND})",
    )
    group.add_argument(
        "--default-issuer-group",
        default=DEFAULT_ISSUER_GROUP,
        metavar="GROUP",
        help=f"group of that issuer (default {DEFAULT_ISSUER_GROUP})",
    )
    group.add_argument(
        "--auto-certificate-annotations",
        type=_csv,
        default=DEFAULT_AUTO_ANNOTATIONS,
        metavar="LIST",
        help="Ingress annotations that, set to true, ask for Certificates "
        f"(default {','.join(DEFAULT_AUTO_ANNOTATIONS)})",
    )
    group.add_argument(
        "--extra-certificate-annotations",
        type=_csv,
        default=(),
        metavar="LIST",
        help="annotations copied from an Ingress or Gateway to its Certificates",
    )
    for flag, what in (
        ("--enable-gateway-api", "run gateway-shim for gateway.networking.k8s.io Gateways"),
        ("--enable-istio-gateway", "run istio-gateway-shim for networking.istio.io Gateways"),
    ):
        group.add_argument(
            flag,
            type=_go_bool,
            nargs="?",
            const=True,
            default=None,
            metavar="BOOL",
            help=f"{what} (default true for serve, false for controller)",
        )
    group.add_argument(
        "--gateway-api-extra-protocols",
        type=_csv,
        default=(),
        metavar="LIST",
        help="listener protocols besides HTTPS and TLS that gateway-shim treats as TLS",
    )


def shim_options(args: argparse.Namespace, *, embedded: bool) -> ShimOptions:
    """The shim settings from the flags; ``embedded`` is ``serve`` (Gateway opt-ins on)."""
    gateway_api: bool | None = args.enable_gateway_api
    istio: bool | None = args.enable_istio_gateway
    return ShimOptions(
        default_issuer=IssuerDefaults(
            args.default_issuer_name, args.default_issuer_kind, args.default_issuer_group
        ),
        auto_certificate_annotations=tuple(args.auto_certificate_annotations),
        extra_certificate_annotations=tuple(args.extra_certificate_annotations),
        enable_gateway_api=embedded if gateway_api is None else gateway_api,
        gateway_api_extra_protocols=tuple(args.gateway_api_extra_protocols),
        enable_istio_gateway=embedded if istio is None else istio,
    )
