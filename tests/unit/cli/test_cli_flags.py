"""Command-line parsing of serve, controller, approve and deny, and kubeconfig resolution."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from certsmith.api.conditions import ConditionType
from certsmith.app import DEFAULT_APPROVE_SIGNER_NAMES, LeaderElection
from certsmith.cli.commands.approve import with_condition
from certsmith.cli.commands.kube import resolve_kubeconfig
from certsmith.cli.controller import leader_election
from certsmith.cli.main import build_parser, main
from certsmith.client.errors import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_serve_keeps_its_flags_and_defaults_to_every_controller():
    args = parse("serve", "--data-dir", "d", "--listen", "127.0.0.1:7443")
    assert (args.data_dir, args.listen) == (Path("d"), ("127.0.0.1", 7443))
    assert args.controllers == "*"
    assert args.cluster_resource_namespace == "cert-manager"
    assert args.approve_signer_names == DEFAULT_APPROVE_SIGNER_NAMES


def test_serve_parses_controllers_and_signer_names():
    args = parse(
        "serve", "--data-dir", "d", "--controllers=*,-certificaterequests-approver",
        "--approve-signer-names", "issuers.cert-manager.io/ns.ca, clusterissuers.example.com/*",
    )  # fmt: skip
    assert args.controllers == "*,-certificaterequests-approver"
    assert args.approve_signer_names == (
        "issuers.cert-manager.io/ns.ca",
        "clusterissuers.example.com/*",
    )
    assert parse("serve", "--data-dir", "d", "--approve-signer-names=").approve_signer_names == ()


def test_leader_election_is_off_unless_asked():
    assert leader_election(parse("controller", "--kubeconfig", "k")) is None


def test_leader_election_defaults_are_client_gos():
    settings = leader_election(parse("controller", "--leader-elect"))
    assert isinstance(settings, LeaderElection)
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == (15, 10, 2)
    assert (settings.namespace, settings.name) == ("kube-system", "certsmith-controller")


def test_a_short_lease_scales_the_other_timings():
    settings = leader_election(
        parse("controller", "--leader-elect", "--leader-election-lease-duration=4s")
    )
    assert settings is not None
    assert settings.lease_duration == 4
    assert settings.retry_period < settings.renew_deadline < 4


def test_inconsistent_timings_are_a_clear_error(capsys):
    code = main(["controller", "--kubeconfig", "k", "--leader-elect",
                 "--leader-election-renew-deadline=20s"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "retry period < renew deadline < lease duration" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["0s", "-1s", "soon"])
def test_bad_durations_are_rejected_by_argparse(value, capsys):
    with pytest.raises(SystemExit):
        parse("controller", f"--leader-election-lease-duration={value}")
    assert "duration" in capsys.readouterr().err


def test_approve_and_deny_use_cmctls_defaults():
    approve = parse("approve", "cr")
    assert (approve.reason, approve.message) == (
        "KubectlCertManager",
        'manually approved by "cmctl"',
    )
    assert approve.condition is ConditionType.APPROVED
    deny = parse("deny", "cr", "-n", "ns")
    assert (deny.reason, deny.message) == ("KubectlCertManager", 'manually denied by "cmctl"')
    assert deny.namespace == "ns"


def test_empty_reason_is_refused_without_contacting_a_server(capsys):
    assert main(["approve", "cr", "--reason", ""]) == 1
    assert capsys.readouterr().err.strip() == "certsmith approve: a reason must be given"


def test_approve_without_any_kubeconfig_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["approve", "cr"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("certsmith approve: no kubeconfig found")


def test_with_condition_replaces_only_its_type():
    cr = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending"}]}}
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    updated = with_condition(cr, ConditionType.DENIED, "R", "M", now)
    assert updated["status"]["conditions"] == [
        {"type": "Ready", "status": "False", "reason": "Pending"},
        {
            "type": "Denied",
            "status": "True",
            "lastTransitionTime": "2026-01-02T03:04:05Z",
            "reason": "R",
            "message": "M",
        },
    ]
    assert cr["status"]["conditions"][0] is updated["status"]["conditions"][0]
    assert len(cr["status"]["conditions"]) == 1


def test_kubeconfig_resolution_follows_kubectl(tmp_path):
    home_config = tmp_path / ".kube" / "config"
    home_config.parent.mkdir()
    home_config.write_text("{}")
    first, second = tmp_path / "a", tmp_path / "b"
    second.write_text("{}")
    env = {"HOME": str(tmp_path)}
    assert resolve_kubeconfig(Path("explicit"), env) == Path("explicit")
    assert resolve_kubeconfig(None, env) == home_config
    assert resolve_kubeconfig(None, {**env, "KUBECONFIG": f"{first}:{second}"}) == second
    home_config.unlink()
    with pytest.raises(ConfigError, match="KUBECONFIG="):
        resolve_kubeconfig(None, {**env, "KUBECONFIG": str(first)})
    with pytest.raises(ConfigError, match="pass --kubeconfig"):
        resolve_kubeconfig(None, env)


def test_controller_namespace_defaults_to_every_namespace():
    assert parse("controller", "--kubeconfig", "k").namespace is None
    assert parse("controller", "--namespace", "team-a").namespace == "team-a"


def test_a_namespaced_controller_elects_its_leader_in_that_namespace():
    settings = leader_election(parse("controller", "--namespace", "team-a", "--leader-elect"))
    assert settings is not None
    assert settings.namespace == "team-a"
    args = parse("controller", "--namespace=a", "--leader-elect", "--leader-election-namespace=x")
    explicit = leader_election(args)
    assert explicit is not None
    assert explicit.namespace == "x"


def test_serve_has_no_namespace_flag(capsys):
    with pytest.raises(SystemExit):
        parse("serve", "--data-dir", "d", "--namespace", "team-a")
    assert "--namespace" in capsys.readouterr().err
