"""Which kubeconfig and namespace a cmctl-style command uses, resolved as kubectl does.

Order: ``--kubeconfig``, then the first existing file in ``$KUBECONFIG`` (a path list; kubectl
merges them, which certsmith does not, so the first file must hold the context), then
``~/.kube/config``. The namespace is ``-n``, else the context's namespace, else ``default``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from certsmith.client.errors import ConfigError


def add_kube_arguments(parser: argparse.ArgumentParser) -> None:
    """Add kubectl's ``--kubeconfig``, ``--context`` and ``-n/--namespace``."""
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: as kubectl)")
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")


def resolve_kubeconfig(explicit: Path | None, environ: dict[str, str] | None = None) -> Path:
    """The kubeconfig file kubectl would read.

    Raises:
        ConfigError: no kubeconfig file can be found.
    """
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    listed = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    for path in listed:
        if path.exists():
            return path
    default = Path(env.get("HOME") or Path.home()) / ".kube" / "config"
    if listed and not default.exists():
        raise ConfigError(f"no kubeconfig found: KUBECONFIG={env['KUBECONFIG']} does not exist")
    if not default.exists():
        raise ConfigError(
            f"no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create {default}"
        )
    return default
