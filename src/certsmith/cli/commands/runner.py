"""Running a cmctl-style command: one place that turns failures into clear messages.

Every error a user can cause or meet (a wrong name, an unreachable server, a refused request)
ends as one ``certsmith <command>: <what happened>`` line on stderr with a hint at the next step,
and exit code 1; never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from certsmith.cli.commands.approve import CommandError
from certsmith.client.errors import (
    ApiError,
    ClientError,
    Forbidden,
    NotFound,
    TransportError,
    Unauthorized,
)

__all__ = ["api_error_text", "run_command"]


def api_error_text(exc: ClientError) -> str:
    """A one-line description of a client error with the next step to take."""
    if isinstance(exc, TransportError):
        return (
            f"cannot reach the API server: {exc} (is `certsmith serve` running, and does the "
            "kubeconfig point at it? see --kubeconfig/--context)"
        )
    if isinstance(exc, Unauthorized):
        return (
            f"the API server refused the credentials: {exc.message or exc} (check the kubeconfig)"
        )
    if isinstance(exc, Forbidden):
        return f"not allowed: {exc.message or exc} (ask for RBAC access or use another context)"
    if isinstance(exc, NotFound):
        return exc.message or str(exc)
    if isinstance(exc, ApiError):
        return exc.message or str(exc)
    return str(exc)


def run_command(name: str, coroutine: Coroutine[Any, Any, int]) -> int:
    """Run ``coroutine`` (the command body, returning its exit code) and report failures."""
    try:
        return asyncio.run(coroutine)
    except CommandError as exc:
        print(f"certsmith {name}: {exc}", file=sys.stderr)
    except ClientError as exc:
        print(f"certsmith {name}: {api_error_text(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"certsmith {name}: interrupted", file=sys.stderr)
        return 130
    return 1
