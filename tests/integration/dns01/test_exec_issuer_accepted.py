"""An Issuer configuring the exec provider passes the CRD schema and admission unchanged."""

from pathlib import Path
from typing import Any

from certsmith.admission.issuer import validate_issuer
from certsmith.api.certmanager import Issuer
from tests.servertools import admin_client, running_server

ISSUERS = "/apis/cert-manager.io/v1/namespaces/default/issuers"


def exec_issuer() -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "acme-exec", "namespace": "default"},
        "spec": {
            "acme": {
                "server": "https://acme.test/dir",
                "privateKeySecretRef": {"name": "acme-account"},
                "solvers": [
                    {
                        "dns01": {
                            "cnameStrategy": "Follow",
                            "webhook": {
                                "groupName": "acme.certsmith.io",
                                "solverName": "exec",
                                "config": {
                                    "command": "cloudflare",
                                    "args": ["--quiet"],
                                    "env": {"CF_ZONE": "example.com"},
                                    "envFromSecret": {"name": "cf-api"},
                                    "timeout": "90s",
                                    "ttl": 120,
                                },
                            },
                        }
                    }
                ],
            }
        },
    }


def test_admission_accepts_the_exec_webhook_solver():
    errors, warnings = validate_issuer(Issuer.from_dict(exec_issuer()))
    assert errors == []
    assert warnings == []


async def test_api_server_stores_the_exec_config_unchanged(tmp_path: Path):
    async with (
        running_server(tmp_path / "data") as server,
        admin_client(server, tmp_path / "client") as client,
    ):
        created = await client.post(ISSUERS, json=exec_issuer())
        assert created.status_code == 201, created.text
        stored = (await client.get(f"{ISSUERS}/acme-exec")).json()
    solver = stored["spec"]["acme"]["solvers"][0]["dns01"]
    assert solver == exec_issuer()["spec"]["acme"]["solvers"][0]["dns01"]
