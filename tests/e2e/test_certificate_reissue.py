"""Reissuance end to end: spec edits and Secret tampering against ``certsmith serve`` (kubectl).

SPEC §12 behaviours 21 (a ``dnsNames`` edit reissues with ``RequestChanged``; a
``secretTemplate`` edit updates the Secret in place) and 22 (a deleted Secret, a replaced
``tls.key`` and a foreign issuer annotation each reissue, with the right reason). The reasons
live in the transient ``Issuing`` condition, so the namespace's CA is taken away while they are
read and given back for the reissue (tests/e2e/certenv.py ``CaNamespace.stall``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.certenv import CaNamespace, make_ca
from tests.e2e.procs import Deployment, condition, deployed
from tests.servertools import kubectl_path

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    with deployed("serve", tmp_path_factory.mktemp("reissue")) as running:
        yield running


@pytest.fixture
def ns(deployment: Deployment, request: pytest.FixtureRequest, tmp_path: Path) -> CaNamespace:
    """A namespace with Certificate ``web`` issued (revision 1) by its CA Issuer."""
    name = request.node.name.removeprefix("test_")[:40].replace("_", "-").rstrip("-")
    namespace = CaNamespace(deployment.serve, name, tmp_path)
    namespace.certificate("web")
    namespace.wait_revision("web", 1)
    return namespace


def issuing_message(ns: CaNamespace, reason: str) -> str:
    """Wait for ``Issuing=True`` with ``reason``; return its message."""
    cond = condition(ns.wait_condition("web", "Issuing", "True", reason), "Issuing")
    assert cond is not None
    message: str = cond["message"]
    return message


def test_dns_names_edit_reissues_with_request_changed_and_template_edit_updates_in_place(
    ns: CaNamespace,
) -> None:
    """SPEC §12 behaviour 21."""
    ns.stall()
    ns.kubectl("patch", "certificate", "web", "--type=merge",
               "-p", '{"spec": {"dnsNames": ["www.example.com"]}}')  # fmt: skip
    assert issuing_message(ns, "RequestChanged") == (
        "Fields on existing CertificateRequest resource not up to date: [spec.dnsNames]"
    )
    ns.resume()
    ns.wait_revision("web", 2)
    ns.wait_requests(["web-2"])
    assert ns.get("secret", "web-tls")["metadata"]["annotations"][
        "cert-manager.io/alt-names"] == "www.example.com"  # fmt: skip
    ns.verify("web-tls")
    request_uid = ns.get("cr", "web-2")["metadata"]["uid"]
    tls_crt = ns.secret_data("web-tls")["tls.crt"]

    ns.kubectl("patch", "certificate", "web", "--type=merge", "-p",
               '{"spec": {"secretTemplate": {"labels": {"team": "blue"}}}}')  # fmt: skip

    def labelled() -> bool:
        labels = ns.get("secret", "web-tls")["metadata"].get("labels") or {}
        return labels.get("team") == "blue"

    ns.wait(labelled)
    cert = ns.get("certificate", "web")
    assert cert["status"]["revision"] == 2
    assert condition(cert, "Issuing") is None
    assert ns.request_names() == ["web-2"]
    assert ns.get("cr", "web-2")["metadata"]["uid"] == request_uid
    assert ns.secret_data("web-tls")["tls.crt"] == tls_crt  # the same certificate, relabelled
    labels = ns.get("secret", "web-tls")["metadata"]["labels"]
    assert labels["controller.cert-manager.io/fao"] == "true"


def test_deleted_secret_reissues_with_does_not_exist(ns: CaNamespace) -> None:
    """SPEC §12 behaviour 22: the Secret is deleted."""
    ns.stall()
    ns.kubectl("delete", "secret", "web-tls")
    message = "Issuing certificate as Secret does not exist"
    assert issuing_message(ns, "DoesNotExist") == message
    cert = ns.wait_condition("web", "Ready", "False", "DoesNotExist")
    ready = condition(cert, "Ready")
    assert ready is not None
    assert ready["message"] == message
    ns.resume()
    ns.wait_revision("web", 2)
    ns.verify("web-tls")


def test_replaced_private_key_reissues_with_invalid_key_pair(
    ns: CaNamespace, tmp_path: Path
) -> None:
    """SPEC §12 behaviour 22: ``tls.key`` no longer matches ``tls.crt``."""
    _, other_key = make_ca(tmp_path, "other")
    ns.stall()
    key = base64.b64encode(other_key.read_bytes()).decode()
    ns.kubectl("patch", "secret", "web-tls", "--type=merge",
               "-p", json.dumps({"data": {"tls.key": key}}))  # fmt: skip
    assert issuing_message(ns, "InvalidKeyPair") == (
        "Issuing certificate as Secret contains a private key that does not match the certificate"
    )
    ns.wait_condition("web", "Ready", "False", "InvalidKeyPair")
    ns.resume()
    ns.wait_revision("web", 2)
    ns.verify("web-tls")  # a matching pair again


def test_foreign_issuer_annotation_reissues_with_incorrect_issuer(ns: CaNamespace) -> None:
    """SPEC §12 behaviour 22: the Secret says another issuer issued it."""
    ns.stall()
    ns.kubectl("annotate", "--overwrite", "secret", "web-tls",
               "cert-manager.io/issuer-name=other")  # fmt: skip
    assert issuing_message(ns, "IncorrectIssuer") == (
        'Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/other"'
    )
    ns.resume()
    ns.wait_revision("web", 2)
    secret = ns.get("secret", "web-tls")
    assert secret["metadata"]["annotations"]["cert-manager.io/issuer-name"] == "ca-issuer"
    ns.verify("web-tls")
