"""``certsmith install manifests``: print the install manifests for a real cluster.

The output is what ``kubectl kustomize deploy/overlays/cluster`` (or ``.../namespaced`` with
``--namespaced``) prints, rendered in Python from the same files (:mod:`certsmith.cli.kustomize`)
so it works without kubectl, ready for ``kubectl apply -f -``. ``--namespace NS`` moves the
install to NS as a further kustomize ``namespace:`` would: the Namespace object, every
namespaced object, and the ServiceAccount subjects of the bindings; the Deployment's flags follow
through ``$(POD_NAMESPACE)``.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Final

from certsmith.cli.kustomize import KustomizeError, build, overlay_dir, render

# A DNS-1123 label, as Kubernetes requires of namespace names.
_NAMESPACE: Final = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _namespace(value: str) -> str:
    if not _NAMESPACE.match(value):
        raise argparse.ArgumentTypeError(
            f"invalid namespace {value!r}: lower-case letters, digits and '-', at most 63, "
            "starting and ending with a letter or digit"
        )
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``install`` and its ``manifests`` sub-command."""
    parser = subparsers.add_parser("install", help="install certsmith on a Kubernetes cluster")
    sub = parser.add_subparsers(dest="install_command", metavar="COMMAND", required=True)
    manifests = sub.add_parser(
        "manifests",
        help="print the install manifests (CRDs, RBAC, Deployment) for kubectl apply -f -",
    )
    manifests.add_argument(
        "--namespace",
        type=_namespace,
        default=None,
        metavar="NS",
        help="install into this namespace (default cert-manager)",
    )
    manifests.add_argument(
        "--namespaced",
        action="store_true",
        help="act in the install namespace only, with Role-only RBAC (no ClusterIssuers)",
    )
    manifests.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the manifests; 1 with a message when the deploy/ files cannot be rendered."""
    try:
        objects = build(
            overlay_dir("namespaced" if args.namespaced else "cluster"), namespace=args.namespace
        )
    except KustomizeError as exc:
        print(f"certsmith install manifests: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render(objects))
    return 0
