"""The exec provider end to end: docs/examples/exec-nsupdate.sh updating a real bind9."""

from pathlib import Path
from typing import Any

import pytest

from certsmith.acme.dns01 import DNS01Solver, ExecProviderError
from tests.dns01tools import (
    SecretStore,
    bind9_settings,
    make_dns01_challenge,
    make_opaque_secret,
)
from tests.peers.bind9 import Bind9

HOOK = Path(__file__).resolve().parents[3] / "docs" / "examples" / "exec-nsupdate.sh"


def solver_for(bind9: Bind9, secret: str) -> DNS01Solver:
    settings = bind9_settings(bind9, exec_commands={"nsupdate": HOOK})
    return DNS01Solver(settings, SecretStore(make_opaque_secret("tsig", {"TSIG_SECRET": secret})))


def exec_dns01(bind9: Bind9, **extra) -> dict[str, Any]:
    key = bind9.keys["HMACSHA256"]
    return {
        "webhook": {
            "groupName": "acme.certsmith.io",
            "solverName": "exec",
            "config": {
                "command": "nsupdate",
                "env": {
                    "NSUPDATE_SERVER": "127.0.0.1",
                    "NSUPDATE_PORT": str(bind9.port),
                    "TSIG_ALGORITHM": key.bind_algorithm,
                    "TSIG_KEY_NAME": key.name,
                },
                "envFromSecret": {"name": "tsig"},
                "timeout": "30s",
            }
            | extra,
        }
    }


async def test_script_presents_checks_and_cleans_up_through_bind9(bind9):
    solver = solver_for(bind9, bind9.keys["HMACSHA256"].secret)
    name = f"{bind9.unique()}.www.example.test"
    challenge = make_dns01_challenge(exec_dns01(bind9), dns_name=name, key="from-script")
    assert (await solver.check(challenge)).propagated is False
    request = await solver.present(challenge, "ns")
    assert request.resolved_zone == "example.test."
    assert bind9.txt(f"_acme-challenge.{name}.") == ["from-script"]
    assert (await solver.check(challenge)).propagated is True
    await solver.cleanup(challenge, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == []


async def test_script_failure_shows_its_stderr_without_the_secret(bind9):
    wrong = bind9.keys["HMACSHA512"].secret
    solver = solver_for(bind9, wrong)
    name = f"{bind9.unique()}.www.example.test"
    with pytest.raises(ExecProviderError) as err:
        await solver.present(make_dns01_challenge(exec_dns01(bind9), dns_name=name), "ns")
    text = str(err.value)
    assert text.startswith(
        f'exec DNS-01 command "nsupdate" (present _acme-challenge.{name}.) exited with status'
    )
    assert "BADSIG" in text or "tsig verify failure" in text
    assert wrong not in text
    assert bind9.txt(f"_acme-challenge.{name}.") == []
