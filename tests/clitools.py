"""Running ``certsmith`` commands in tests against a real in-process API server."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from certsmith.apiserver.server import ApiServer
from certsmith.cli.main import main
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import NAMESPACES
from tests.servertools import running_server


@dataclass
class Env:
    """A running API server: an admin client and the kubeconfig the CLI uses."""

    client: HttpKubeClient
    kubeconfig: Path
    server: ApiServer


@contextlib.asynccontextmanager
async def server_env(data_dir: Path, namespaces: Sequence[str]) -> AsyncIterator[Env]:
    """Start a server, create ``namespaces``, yield its :class:`Env`; stop it on exit."""
    async with running_server(data_dir) as server:
        client = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
        try:
            for name in namespaces:
                await client.create(NAMESPACES, None, {"metadata": {"name": name}})
            yield Env(client, server.kubeconfig_path, server)
        finally:
            await client.aclose()


def run_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """``certsmith argv...`` in this process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


async def cli(env: Env, *argv: str) -> tuple[int, str, str]:
    """Run ``certsmith argv... --kubeconfig K`` in a thread (the CLI runs its own event loop)."""
    return await asyncio.to_thread(run_cli, [*argv, "--kubeconfig", str(env.kubeconfig)])


def dead_kubeconfig(directory: Path) -> Path:
    """A kubeconfig naming a server nobody listens on (port 9, discard)."""
    path = directory / "dead-kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: ns}}]\n"
    )
    return path
