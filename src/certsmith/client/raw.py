"""Requests outside the ``KubeClient`` protocol, for diagnostics: discovery and dry-run creates.

Controllers never need these, so they stay out of the protocol; ``certsmith check api`` does,
and must not import httpx itself.
"""

from __future__ import annotations

from certsmith.client.http import HttpKubeClient
from certsmith.client.protocol import JSONObject
from certsmith.client.resources import ResourceRef

__all__ = ["create_dry_run", "get_path"]


async def get_path(client: HttpKubeClient, path: str) -> JSONObject:
    """GET an API path (e.g. ``/apis/cert-manager.io/v1``) and return its JSON.

    Raises:
        NotFound: the path is not served.
        ApiError: any other failure answer.
        TransportError: no answer.
    """
    return await client._json("GET", path)


async def create_dry_run(
    client: HttpKubeClient, resource: ResourceRef, namespace: str | None, body: JSONObject
) -> JSONObject:
    """Create ``body`` with ``dryRun=All``: admitted (defaulted, mutated, validated), not stored.

    Raises:
        Invalid: validation refused the object.
        ApiError: any other failure answer.
        TransportError: no answer.
    """
    return await client._json("POST", resource.path(namespace), params={"dryRun": "All"}, body=body)
