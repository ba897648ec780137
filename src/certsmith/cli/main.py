"""Entry point of the ``certsmith`` command: parses arguments and dispatches to a command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from certsmith import __version__
from certsmith.cli import controller, kubeconfig, serve
from certsmith.cli.commands import (
    acmesolver,
    approve,
    check,
    create,
    inspect,
    install,
    renew,
    revoke,
    status,
    wait,
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser; each command module adds its own sub-parser."""
    parser = argparse.ArgumentParser(
        prog="certsmith",
        description="The cert-manager API in Python: sign and renew X.509 certificates.",
    )
    parser.add_argument("--version", action="version", version=f"certsmith {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_parser(subparsers)
    kubeconfig.add_parser(subparsers)
    controller.add_parser(subparsers)
    approve.add_parsers(subparsers)
    renew.add_parser(subparsers)
    revoke.add_parser(subparsers)
    create.add_parser(subparsers)
    status.add_parser(subparsers)
    inspect.add_parser(subparsers)
    check.add_parser(subparsers)
    wait.add_parser(subparsers)
    install.add_parser(subparsers)
    acmesolver.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # serve hands its own arguments to its controller child.
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
