"""``certsmith renew`` and ``certsmith create certificaterequest``: flags, refusals, bodies."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from certsmith.api.meta import decode_bytes
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.create import (
    build_request,
    load_certificate,
    signed_certificate,
    terminal_failure,
)
from certsmith.cli.commands.create import validate as validate_create
from certsmith.cli.commands.renew import issuing_refusal, with_manual_trigger
from certsmith.cli.commands.renew import validate as validate_renew
from certsmith.cli.main import build_parser, main

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

CERTIFICATE_YAML = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
  labels: {app: web}
  annotations: {team: a}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  duration: 24h
  usages: [server auth]
  privateKey: {algorithm: ECDSA, size: 384}
  issuerRef: {name: ca-issuer, kind: Issuer}
"""


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def certificate(*conditions: dict[str, str]) -> dict[str, object]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "generation": 3},
        "status": {"conditions": list(conditions), "revision": 1},
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "please either supply one or more Certificate resource names"),
        (("web", "--all"), "cannot specify Certificate names in conjunction with --all flag"),
        (("web", "-l", "a=b"), "cannot specify Certificate names in conjunction with label"),
        (("web", "-A"), "cannot specify Certificate names in conjunction with --all-namespaces"),
        (("--all", "-l", "a=b"), "cannot specify label selectors in conjunction with --all"),
    ],
)
def test_renew_refuses_the_selections_cmctl_refuses(argv, message):
    with pytest.raises(CommandError, match=message):
        validate_renew(parse("renew", *argv))


@pytest.mark.parametrize("argv", [("web", "db"), ("--all",), ("--all", "-A"), ("-l", "app=web")])
def test_renew_accepts_names_all_and_selectors(argv):
    validate_renew(parse("renew", *argv))


def test_manual_trigger_sets_issuing_with_the_generation_and_keeps_other_conditions():
    ready = {"type": "Ready", "status": "True", "reason": "Ready", "message": "m"}
    old = {"type": "Issuing", "status": "False", "reason": "Failed", "message": "x"}
    updated = with_manual_trigger(certificate(ready, old), NOW)
    conditions = updated["status"]["conditions"]
    assert conditions[0] == ready
    assert conditions[1] == {
        "type": "Issuing",
        "status": "True",
        "lastTransitionTime": "2026-01-02T03:04:05Z",
        "reason": "ManuallyTriggered",
        "message": "Certificate re-issuance manually triggered",
        "observedGeneration": 3,
    }
    assert updated["status"]["revision"] == 1


def test_a_certificate_already_issuing_is_refused_and_a_failed_one_is_not():
    issuing = {"type": "Issuing", "status": "True", "reason": "Renewing", "message": "m"}
    assert issuing_refusal(certificate(issuing)) == (
        "is already being issued (Issuing=True, reason Renewing)"
    )
    failed = {**issuing, "status": "False"}
    assert issuing_refusal(certificate(failed)) is None
    assert issuing_refusal({"metadata": {"name": "web"}}) is None


def test_renew_without_a_selection_exits_1_with_one_line(capsys):
    assert main(["renew", "--kubeconfig", "/nonexistent"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_create_parses_cmctl_flags_and_the_cr_alias():
    args = parse("create", "cr", "my-cr", "--from-certificate-file", "c.yaml",
                 "--fetch-certificate", "--timeout", "20m", "-n", "ns")  # fmt: skip
    assert (args.name, args.from_certificate_file, args.namespace) == (
        "my-cr",
        Path("c.yaml"),
        "ns",
    )
    assert args.fetch_certificate
    assert args.timeout == 1200
    assert parse("create", "certificaterequest", "x", "--from-certificate-file", "f").timeout == 300


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--output-certificate-file", "a.crt"), "please set --fetch-certificate flag"),
        (
            ("--fetch-certificate", "--output-key-file", "a", "--output-certificate-file", "a"),
            "cannot be the same as the file to store certificate",
        ),
    ],
)
def test_create_refuses_file_flags_cmctl_refuses(argv, message):
    args = parse("create", "cr", "x", "--from-certificate-file", "f", *argv)
    with pytest.raises(CommandError, match=message):
        validate_create(args)


def test_request_copies_metadata_and_the_issuance_fields_of_the_certificate(tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text(CERTIFICATE_YAML)
    raw, cert = load_certificate(path)
    assert cert.spec.private_key is not None
    assert cert.spec.private_key.size == 384
    request = build_request("my-cr", raw, b"-----BEGIN CERTIFICATE REQUEST-----\n")
    assert request["metadata"] == {
        "name": "my-cr",
        "labels": {"app": "web"},
        "annotations": {"team": "a"},
    }
    spec = request["spec"]
    assert spec["issuerRef"] == {"name": "ca-issuer", "kind": "Issuer"}
    assert (spec["duration"], spec["usages"]) == ("24h", ["server auth"])
    assert "isCA" not in spec
    assert decode_bytes(spec["request"]).startswith(b"-----BEGIN CERTIFICATE REQUEST")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no objects found"),
        (CERTIFICATE_YAML + "---\n" + CERTIFICATE_YAML, "multiple objects found"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "does not hold a cert-manager"),
        (CERTIFICATE_YAML.replace("secretName", "secretNam"), "invalid Certificate"),
    ],
)
def test_a_manifest_that_is_not_one_certificate_is_refused(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        load_certificate(path)


def test_terminal_conditions_stop_the_wait_and_pending_does_not():
    def cr(*conditions: dict[str, str]) -> dict[str, object]:
        return {"status": {"conditions": list(conditions)}}

    pending = {"type": "Ready", "status": "False", "reason": "Pending", "message": "wait"}
    assert terminal_failure(cr(pending)) is None
    assert terminal_failure(cr()) is None
    denied = {"type": "Denied", "status": "True", "reason": "Policy", "message": "not today"}
    assert terminal_failure(cr(denied)) == "Denied: not today"
    failed = {"type": "Ready", "status": "False", "reason": "Failed", "message": "boom"}
    assert terminal_failure(cr(failed)) == "Failed: boom"


def test_the_certificate_is_only_fetched_once_ready():
    status = {"certificate": "UEVN", "conditions": [{"type": "Ready", "status": "False"}]}
    assert signed_certificate({"status": status}) is None
    status["conditions"] = [{"type": "Ready", "status": "True"}]
    assert signed_certificate({"status": status}) == b"PEM"


def test_create_writes_the_key_0600_before_it_fails_to_reach_the_server(tmp_path, capsys):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(CERTIFICATE_YAML)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    key_file = tmp_path / "out.key"
    code = main(["create", "cr", "x", "--from-certificate-file", str(manifest),
                 "--kubeconfig", str(kubeconfig), "--output-key-file", str(key_file)])  # fmt: skip
    assert code == 1
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    err = capsys.readouterr().err
    assert "PRIVATE KEY" not in err
    assert "cannot reach the API server" in err
