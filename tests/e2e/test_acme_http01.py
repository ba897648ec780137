"""ACME with HTTP-01 end to end: certsmith serve, kubectl and a real pebble.

certsmith answers the challenges itself (``--acme-http01-listen``) on the port pebble's
validation authority connects to; pebble's DNS (challtestsrv) resolves every name to 127.0.0.1,
and the self-check resolves through it too.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certsmith.acme.challenges import ari_cert_id
from tests.e2e.acmetools import (
    NAMESPACE,
    acme_issuer,
    ari_shim_thread,
    certificate,
    condition,
    openssl_verify,
    secret_data,
    serve_for_pebble,
    static_http_server,
    wait_ready,
)
from tests.e2e.certenv import MovableClock, parse_time
from tests.e2e.procs import Serve
from tests.peers.pebble import running_pebble
from tests.servertools import free_port, wait_until


def test_http01_certificate_is_issued_by_pebble_with_a_verifiable_chain_and_no_ca(
    tmp_path: Path,
) -> None:
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        issuer = wait_ready(serve, "issuer", "le")
        assert condition(issuer)["reason"] == "ACMEAccountRegistered"
        acme_status = issuer["status"]["acme"]
        assert acme_status["uri"].startswith(pebble.directory_url.rsplit("/", 1)[0])
        assert acme_status["lastRegisteredEmail"] == "ops@example.test"
        account_secret = serve.get("secret", "le-account", NAMESPACE)
        assert account_secret["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "cert-manager"
        }

        serve.apply(certificate("web", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)

        chain = secret_data(serve, "web-tls", "tls.crt")
        output = openssl_verify(pebble.root_pem(), chain, tmp_path)
        assert ": OK" in output, output
        request = serve.get("certificaterequest", "web-1", NAMESPACE)
        assert "ca" not in request["status"]
        assert condition(request)["reason"] == "Issued"
        orders = serve.list("order", NAMESPACE)
        assert len(orders) == 1
        order = orders[0]
        assert order["status"]["state"] == "valid"
        assert order["metadata"]["ownerReferences"][0]["name"] == "web-1"
        assert base64.b64decode(order["status"]["certificate"]) == chain
        wait_until(lambda: serve.list("challenge", NAMESPACE) == [], timeout=30)
        # Every exchange with pebble is counted as cert-manager counts it.
        metrics = serve.kubectl("get", "--raw", "/metrics").stdout
        counted = [m for m in metrics.splitlines() if m.startswith("certmanager_http_acme_client")]
        for action in ("register_account", "authorize_order", "accept_challenge", "fetch_cert"):
            assert any(f'action="{action}"' in m for m in counted), (action, counted)


def _challenge(serve: Serve) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def one() -> bool:
        found[:] = serve.list("challenge", NAMESPACE)
        return len(found) == 1

    wait_until(one, timeout=60)
    return found[0]


def test_wrong_http01_body_is_reported_on_the_challenge_and_nothing_is_issued(
    tmp_path: Path,
) -> None:
    wrong = free_port()
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        static_http_server(wrong, b"not-the-key"),
        serve_for_pebble(
            tmp_path / "certsmith",
            pebble,
            [f"--acme-http01-self-check-port={wrong}", "--acme-http01-listen=0"],
        ) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        challenge = _challenge(serve)

        def reported() -> bool:
            reason = (
                serve.get("challenge", challenge["metadata"]["name"], NAMESPACE).get("status") or {}
            ).get("reason") or ""
            return reason.startswith(
                "Waiting for HTTP-01 challenge propagation: did not get expected response"
            )

        wait_until(reported, timeout=60)
        current = serve.get("challenge", challenge["metadata"]["name"], NAMESPACE)
        reason = current["status"]["reason"]
        assert f'"{challenge["spec"]["key"]}"' in reason
        assert f"http://web.example.test:{wrong}/.well-known/acme-challenge/" in reason
        assert 'got "not-the-key"' in reason
        assert current["status"]["state"] == "pending"
        assert current["status"]["presented"] is True
        order = serve.list("order", NAMESPACE)[0]
        assert order["status"]["state"] == "pending"
        assert "certificate" not in order["status"]
        assert "certificate" not in (serve.get("certificaterequest", "web-1", NAMESPACE)["status"])


def test_common_name_missing_from_dns_names_fails_the_request(tmp_path: Path) -> None:
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"], commonName="other.example.test"))

        def failed() -> bool:
            request = serve.get("certificaterequest", "web-1", NAMESPACE)
            return condition(request).get("reason") == "Failed"

        wait_until(failed, timeout=60)
        message = condition(serve.get("certificaterequest", "web-1", NAMESPACE))["message"]
        assert message == (
            "The CSR PEM requests a commonName that is not present in the list of dnsNames or "
            "ipAddresses. If a commonName is set, ACME requires that the value is also present "
            'in the list of dnsNames or ipAddresses: "other.example.test" does not exist in '
            "[web.example.test] or []"
        )
        assert serve.list("order", NAMESPACE) == []


def test_order_that_becomes_invalid_fails_the_request_with_the_servers_reason(
    tmp_path: Path,
) -> None:
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble, ["--acme-http01-listen=0"]) as serve,
    ):
        # No responder and no self-check: pebble's validation finds nothing to connect to.
        solvers = [{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "1s"}]
        serve.apply(acme_issuer("le", pebble, solvers=solvers))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))

        def failed() -> bool:
            request = serve.get("certificaterequest", "web-1", NAMESPACE)
            return condition(request).get("reason") == "Failed"

        wait_until(failed, timeout=90)
        order = serve.list("order", NAMESPACE)[0]
        assert order["status"]["state"] == "invalid"
        assert "failureTime" in order["status"]
        message = condition(serve.get("certificaterequest", "web-1", NAMESPACE))["message"]
        assert message.startswith(
            f'Failed to wait for order resource "{order["metadata"]["name"]}" to become ready: '
            'order is in "invalid" state: '
        )
        assert order["status"]["reason"] in message
        assert "connection refused" in message.lower() or "connect" in message.lower(), message


@pytest.mark.parametrize("nonce_reject", [50])
def test_issuance_succeeds_while_pebble_rejects_nonces_at_random(
    tmp_path: Path, nonce_reject: int
) -> None:
    with (
        running_pebble(tmp_path / "pebble", nonce_reject=nonce_reject) as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test", "www.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)
        chain = secret_data(serve, "web-tls", "tls.crt")
        assert ": OK" in openssl_verify(pebble.root_pem(), chain, tmp_path)


def test_external_account_binding_registers_with_pebbles_eab_keys(tmp_path: Path) -> None:
    with (
        running_pebble(tmp_path / "pebble", eab=True) as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        key_id, mac_key = next(iter(pebble.eab_keys.items()))
        serve.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "eab", "namespace": NAMESPACE},
                "stringData": {"secret": mac_key},
            }
        )
        binding = {"keyID": key_id, "keySecretRef": {"name": "eab", "key": "secret"}}
        serve.apply(acme_issuer("le", pebble, externalAccountBinding=binding))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)

        # Without a binding, pebble refuses the account and says why.
        serve.apply(acme_issuer("plain", pebble))

        def refused() -> bool:
            cond = condition(serve.get("issuer", "plain", NAMESPACE))
            return cond.get("reason") == "ErrRegisterACMEAccount"

        wait_until(refused, timeout=60)
        message = condition(serve.get("issuer", "plain", NAMESPACE))["message"]
        assert message.startswith("Failed to register ACME account: ")
        assert "externalAccountRequired" in message


def move_past_renewal(clock: MovableClock, cert: dict[str, Any], issued_at: float) -> None:
    """Move the controllers' clock just past ``cert``'s renewal time, without making the
    certificate that renewal brings due at once.

    pebble dates certificates by the real clock, so the renewal time of the next one is this
    one's plus the real seconds between the two issuances. With that gap at least 10 s and the
    clock 2 s past the (second-truncated) renewal time, the next certificate is due only ~8 s
    after it is issued: time for the test to move the clock back (the controllers re-read the
    clock file every 0.5 s, and an issuance from pebble can be faster than that).
    """
    time.sleep(max(0.0, 10 - (time.monotonic() - issued_at)))
    clock.move_to(parse_time(cert["status"]["renewalTime"]) + dt.timedelta(seconds=2))


def test_certificate_is_renewed_through_acme_when_its_renewal_time_passes(
    tmp_path: Path,
) -> None:
    clock = MovableClock(tmp_path / "clock-offset")
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(
            tmp_path / "certsmith", pebble, ["--clock-offset-file", str(clock.path)]
        ) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        first = wait_ready(serve, "certificate", "web", timeout=120)
        issued_at = time.monotonic()
        first_chain = secret_data(serve, "web-tls", "tls.crt")
        move_past_renewal(clock, first, issued_at)
        wait_until(
            lambda: serve.list("certificaterequest", NAMESPACE)[-1]["metadata"]["name"] == "web-2",
            timeout=60,
        )
        clock.move_to(dt.datetime.now(dt.UTC))

        def renewed() -> bool:
            cert = serve.get("certificate", "web", NAMESPACE)
            return bool(cert["status"].get("revision") == 2) and condition(cert)["status"] == "True"

        wait_until(renewed, timeout=120)
        second_chain = secret_data(serve, "web-tls", "tls.crt")
        assert second_chain != first_chain
        assert ": OK" in openssl_verify(pebble.root_pem(), second_chain, tmp_path)
        orders = serve.list("order", NAMESPACE)
        assert [o["metadata"]["ownerReferences"][0]["name"] for o in orders] == ["web-2"]
        assert orders[0]["status"]["state"] == "valid"
        # pebble has no ARI: the renewal order went without ``replaces``, but its spec
        # names the certificate it replaces (for servers that do).
        assert orders[0]["spec"]["replaces"]


@pytest.mark.parametrize(("reuse", "challenges"), [(100, 0), (0, 1)])
def test_authorization_reuse_on_and_off(tmp_path: Path, reuse: int, challenges: int) -> None:
    """With pebble reusing valid authorizations, a second order needs no Challenge."""
    with (
        running_pebble(tmp_path / "pebble", authz_reuse=reuse) as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("first", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "first", timeout=120)
        created: set[str] = set()

        def record() -> bool:
            created.update(c["metadata"]["name"] for c in serve.list("challenge", NAMESPACE))
            cert = serve.get("certificate", "second", NAMESPACE)
            return condition(cert).get("status") == "True"

        serve.apply(certificate("second", "le", ["web.example.test"]))
        wait_until(record, timeout=120)
        order = next(
            o
            for o in serve.list("order", NAMESPACE)
            if o["metadata"]["ownerReferences"][0]["name"] == "second-1"
        )
        [authz] = order["status"]["authorizations"]
        assert authz["initialState"] == ("valid" if reuse else "pending")
        second = [name for name in created if name.startswith(order["metadata"]["name"])]
        assert len(second) == challenges


@pytest.mark.parametrize("ari", [True, False], ids=["ari-on", "ari-off"])
def test_renewal_order_carries_replaces_to_an_ari_server(tmp_path: Path, ari: bool) -> None:
    """ARI is on by default; ``renewalInformationSource: None`` turns ``replaces`` off."""
    clock = MovableClock(tmp_path / "clock-offset")
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        ari_shim_thread(pebble) as shim,
        serve_for_pebble(
            tmp_path / "certsmith", pebble, ["--clock-offset-file", str(clock.path)]
        ) as serve,
    ):
        extra: dict[str, Any] = {} if ari else {"renewalInformationSource": "None"}
        manifest = acme_issuer("le", pebble, **extra)
        manifest["spec"]["acme"]["server"] = shim.directory_url
        serve.apply(manifest)
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        first = wait_ready(serve, "certificate", "web", timeout=120)
        issued_at = time.monotonic()
        leaf = x509.load_pem_x509_certificates(secret_data(serve, "web-tls", "tls.crt"))[0]

        move_past_renewal(clock, first, issued_at)
        wait_until(
            lambda: any(
                o["metadata"]["ownerReferences"][0]["name"] == "web-2"
                and o.get("status", {}).get("url")
                for o in serve.list("order", NAMESPACE)
            ),
            timeout=90,
        )
        clock.move_to(dt.datetime.now(dt.UTC))
        expected = ari_cert_id(leaf) if ari else None
        assert shim.replaces_seen == [None, expected]
        order = next(
            o
            for o in serve.list("order", NAMESPACE)
            if o["metadata"]["ownerReferences"][0]["name"] == "web-2"
        )
        assert order["spec"].get("replaces") == expected


def test_split_mode_cluster_issuer_issues_for_a_name_and_an_ip_address(tmp_path: Path) -> None:
    """``certsmith controller`` answers HTTP-01 itself; the account key of a ClusterIssuer
    lives in the cluster resource namespace; pebble validates the IP identifier at 127.0.0.1."""
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble, mode="split") as serve,
    ):
        serve.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}})
        manifest = acme_issuer("le", pebble)
        manifest["kind"] = "ClusterIssuer"
        del manifest["metadata"]["namespace"]
        serve.apply(manifest)
        wait_ready(serve, "clusterissuer", "le")
        account = serve.get("secret", "le-account", "cert-manager")
        assert account["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "cert-manager"

        cert = certificate("web", "le", ["web.example.test"], ipAddresses=["127.0.0.1"])
        cert["spec"]["issuerRef"]["kind"] = "ClusterIssuer"
        serve.apply(cert)
        wait_ready(serve, "certificate", "web", timeout=120)
        chain = secret_data(serve, "web-tls", "tls.crt")
        assert ": OK" in openssl_verify(pebble.root_pem(), chain, tmp_path)
        leaf = x509.load_pem_x509_certificates(chain)[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        order = serve.list("order", NAMESPACE)[0]
        identifiers = sorted(a["identifier"] for a in order["status"]["authorizations"])
        assert identifiers == ["127.0.0.1", "web.example.test"]


def test_renewal_time_follows_the_servers_ari_window_and_the_renewal_replaces(
    tmp_path: Path,
) -> None:
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        ari_shim_thread(pebble) as shim,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        start, end = now + dt.timedelta(seconds=45), now + dt.timedelta(seconds=55)
        shim.set_window(start, end)
        manifest = acme_issuer("le", pebble)
        manifest["spec"]["acme"]["server"] = shim.directory_url
        serve.apply(manifest)
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)
        leaf = x509.load_pem_x509_certificates(secret_data(serve, "web-tls", "tls.crt"))[0]
        found: dict[str, Any] = {}

        def windowed() -> bool:
            found.update(serve.get("certificate", "web", NAMESPACE))
            ari = (found["status"].get("acme") or {}).get("ari") or {}
            renewal = found["status"].get("renewalTime")
            return (
                bool(ari.get("suggestedWindow"))
                and renewal is not None
                and (start <= parse_time(renewal) <= end)
            )

        wait_until(windowed, timeout=60)
        ari = found["status"]["acme"]["ari"]
        assert parse_time(ari["suggestedWindow"]["start"]) == start
        assert parse_time(ari["suggestedWindow"]["end"]) == end
        assert parse_time(ari["nextCheck"]) > parse_time(ari["lastChecked"])

        def renewed() -> bool:
            cert = serve.get("certificate", "web", NAMESPACE)
            return bool(cert["status"].get("revision") == 2) and condition(cert)["status"] == "True"

        wait_until(renewed, timeout=120)
        assert shim.replaces_seen == [None, ari_cert_id(leaf)]
        second = x509.load_pem_x509_certificates(secret_data(serve, "web-tls", "tls.crt"))[0]
        assert second.serial_number != leaf.serial_number


def test_preferred_chain_picks_the_alternate_chain_to_the_named_root(tmp_path: Path) -> None:
    with (
        running_pebble(tmp_path / "pebble", alternate_roots=1) as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        alternate = x509.load_pem_x509_certificate(pebble.root_pem(1))
        [cn] = alternate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        serve.apply(acme_issuer("le", pebble, preferredChain=str(cn.value)))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)
        chain = secret_data(serve, "web-tls", "tls.crt")
        (tmp_path / "alt").mkdir()
        (tmp_path / "default").mkdir()
        assert ": OK" in openssl_verify(pebble.root_pem(1), chain, tmp_path / "alt")
        assert ": OK" not in openssl_verify(pebble.root_pem(0), chain, tmp_path / "default")


def test_many_certificates_at_once_including_a_shared_name_are_all_issued(
    tmp_path: Path,
) -> None:
    """The scheduler never runs two Challenges for one (name, type) at once; all complete."""
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        names = [f"c{i}" for i in range(6)]
        for name in names:
            dns = (
                [f"{name}.example.test", "shared.example.test"]
                if name < "c2"
                else [f"{name}.example.test"]
            )
            serve.apply(certificate(name, "le", dns))
        for name in names:
            wait_ready(serve, "certificate", name, timeout=180)
        assert len(serve.list("order", NAMESPACE)) == len(names)
        wait_until(lambda: serve.list("challenge", NAMESPACE) == [], timeout=60)
