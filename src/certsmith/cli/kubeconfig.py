"""``certsmith kubeconfig``: mint a client-certificate kubeconfig for another user.

The certificate is signed by the server CA in the data directory; the CN is the user name and
each ``--group`` an O attribute, which is how the server authenticates it (as kube does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from certsmith.apiserver.server import mint_kubeconfig, write_kubeconfig
from certsmith.apiserver.tls import ServerPKI


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``kubeconfig`` command."""
    parser = subparsers.add_parser("kubeconfig", help="mint a kubeconfig for a user")
    parser.add_argument("--data-dir", type=Path, required=True, help="the server's data dir")
    parser.add_argument("--user", required=True, help="user name (certificate CN)")
    parser.add_argument(
        "--group", action="append", default=[], help="group (certificate O); repeatable"
    )
    parser.add_argument("--out", type=Path, help="write here (0600) instead of stdout")
    parser.set_defaults(func=run)


def _server_url(data_dir: Path) -> str:
    admin = data_dir / "kubeconfig"
    if admin.exists():
        config = yaml.safe_load(admin.read_text())
        return str(config["clusters"][0]["cluster"]["server"])
    return "https://127.0.0.1:6443"


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith kubeconfig``."""
    pki = ServerPKI(args.data_dir / "pki")
    if not pki.ca_cert.exists() or not pki.ca_key.exists():
        print(
            f"certsmith kubeconfig: no server CA in {args.data_dir}; run certsmith serve first",
            file=sys.stderr,
        )
        return 1
    config = mint_kubeconfig(pki, _server_url(args.data_dir), args.user, args.group)
    if args.out is None:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
    else:
        write_kubeconfig(args.out, config)
    return 0
