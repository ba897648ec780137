"""Certificate shims end to end: Ingresses and Gateways applied with kubectl to a real
``certsmith serve`` become Certificates (SPEC §12 behaviour 25 and its Gateway equivalent).

Both deployment modes: controllers inside ``serve``, and a separate ``certsmith controller``
(RBAC enforced, as the install manifests' ServiceAccount plus docs/deploy.md's shim rules),
with ``--enable-gateway-api`` and ``--enable-istio-gateway`` so every shim runs in both. Every
wait is a bounded poll.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.certenv import make_ca, openssl
from tests.e2e.manifestrbac import documented_optional_rules
from tests.e2e.procs import MODES, Deployment, Mode, Serve, condition, deployed
from tests.servertools import kubectl_path, wait_until

pytestmark = pytest.mark.e2e

INGRESS_YAML = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
  annotations:
    cert-manager.io/cluster-issuer: le
spec:
  ingressClassName: nginx
  rules:
    - host: a.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: web, port: {number: 80}}
  tls:
    - hosts: [a.example.com, 10.0.0.1]
      secretName: a-tls
"""

GATEWAY_YAML = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  annotations:
    cert-manager.io/issuer: ca
spec:
  gatewayClassName: example
  listeners:
    - name: http
      port: 80
      protocol: HTTP
    - name: https
      hostname: g.example.com
      port: 443
      protocol: HTTPS
      tls:
        mode: Terminate
        certificateRefs:
          - kind: Secret
            group: ""
            name: g-tls
"""


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")


@pytest.fixture(scope="module", params=MODES)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    mode: Mode = request.param
    root = tmp_path_factory.mktemp(f"shims-{mode}")
    # Split mode runs as the manifests' ServiceAccount: the shims' rules are the ones
    # docs/deploy.md tells users to add for these two flags.
    flags = ["--enable-gateway-api", "--enable-istio-gateway"]
    with deployed(mode, root, flags, extra_rules=documented_optional_rules()) as running:
        yield running


@pytest.fixture
def namespace(deployment: Deployment, request: pytest.FixtureRequest) -> str:
    name: str = request.node.name.split("[")[0].removeprefix("test_")[:40].replace("_", "-")
    deployment.serve.kubectl("create", "namespace", name.rstrip("-"))
    return name.rstrip("-")


def find(serve: Serve, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    result = serve.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def wait_for(serve: Serve, kind: str, name: str, namespace: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def present() -> bool:
        obj = find(serve, kind, name, namespace)
        if obj is not None:
            seen.append(obj)
        return obj is not None

    wait_until(present, timeout=30)
    return seen[-1]


def events(serve: Serve, namespace: str, name: str) -> list[tuple[str, str, str]]:
    out = serve.kubectl(
        "get", "events", "-n", namespace, "-o", "json",
        f"--field-selector=involvedObject.name={name}",
    )  # fmt: skip
    return [(e["type"], e["reason"], e["message"]) for e in json.loads(out.stdout)["items"]]


def test_ingress_becomes_certificate_and_loses_it_with_its_tls_entry(
    deployment: Deployment, namespace: str
) -> None:
    serve = deployment.serve
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=INGRESS_YAML)
    ingress = serve.get("ingress", "app", namespace)
    cert = wait_for(serve, "certificate", "a-tls", namespace)
    assert cert["spec"] == {
        "secretName": "a-tls",
        "dnsNames": ["a.example.com"],
        "ipAddresses": ["10.0.0.1"],
        "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "usages": ["digital signature", "key encipherment"],
    }
    owner = cert["metadata"]["ownerReferences"]
    assert [(o["kind"], o["name"], o["uid"], o["controller"]) for o in owner] == [
        ("Ingress", "app", ingress["metadata"]["uid"], True)
    ]
    table = serve.kubectl("get", "ingress", "app", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert table[1].split()[:4] == ["app", "nginx", "a.example.com", "80,"]
    assert ("Normal", "CreateCertificate", 'Successfully created Certificate "a-tls"') in events(
        serve, namespace, "app"
    )

    serve.kubectl("patch", "ingress", "app", "-n", namespace, "--type=json",
                  "-p", '[{"op": "remove", "path": "/spec/tls"}]')  # fmt: skip
    wait_until(lambda: find(serve, "certificate", "a-tls", namespace) is None, timeout=30)
    assert (
        "Normal",
        "DeleteCertificate",
        'Successfully deleted unrequired Certificate "a-tls"',
    ) in events(serve, namespace, "app")


def test_both_issuer_annotations_create_nothing_and_warn(
    deployment: Deployment, namespace: str
) -> None:
    serve = deployment.serve
    manifest = INGRESS_YAML.replace(
        "    cert-manager.io/cluster-issuer: le\n",
        "    cert-manager.io/cluster-issuer: le\n    cert-manager.io/issuer: ca\n",
    )
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=manifest)
    warning = (
        "Warning",
        "BadConfig",
        "Could not determine issuer for ingress due to bad annotations: both "
        '"cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be set',
    )
    wait_until(lambda: warning in events(serve, namespace, "app"), timeout=30)
    assert serve.list("certificates", namespace) == []


def test_annotation_change_updates_the_certificate(deployment: Deployment, namespace: str) -> None:
    serve = deployment.serve
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=INGRESS_YAML)
    wait_for(serve, "certificate", "a-tls", namespace)
    serve.kubectl(
        "annotate", "ingress", "app", "-n", namespace,
        "cert-manager.io/duration=720h", "cert-manager.io/common-name=a.example.com",
    )  # fmt: skip

    def updated() -> bool:
        spec = serve.get("certificate", "a-tls", namespace)["spec"]
        return bool(spec.get("duration") == "720h0m0s" and spec.get("commonName"))

    wait_until(updated, timeout=30)
    assert ("Normal", "UpdateCertificate", 'Successfully updated Certificate "a-tls"') in events(
        serve, namespace, "app"
    )


def test_gateway_listener_becomes_certificate_and_is_deleted_with_it(
    deployment: Deployment, namespace: str
) -> None:
    serve = deployment.serve
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=GATEWAY_YAML)
    gateway = serve.get("gateways.gateway.networking.k8s.io", "gw", namespace)
    cert = wait_for(serve, "certificate", "g-tls", namespace)
    assert cert["spec"]["dnsNames"] == ["g.example.com"]
    assert cert["spec"]["secretName"] == "g-tls"
    assert cert["spec"]["issuerRef"] == {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert cert["metadata"]["annotations"]["acme.cert-manager.io/http01-parentrefname"] == "gw"
    assert cert["metadata"]["ownerReferences"][0]["uid"] == gateway["metadata"]["uid"]

    serve.kubectl(
        "patch", "gateways.gateway.networking.k8s.io", "gw", "-n", namespace,
        "--type=json", "-p", '[{"op": "remove", "path": "/spec/listeners/1"}]',
    )  # fmt: skip
    wait_until(lambda: find(serve, "certificate", "g-tls", namespace) is None, timeout=30)


def test_ingress_certificate_is_issued_by_a_ca_cluster_issuer(
    deployment: Deployment, namespace: str, tmp_path: Path
) -> None:
    serve = deployment.serve
    if find(serve, "clusterissuer", "shim-ca", "default") is None:
        serve.kubectl("create", "namespace", "cert-manager", check=False)
        cert, key = make_ca(tmp_path, "shim-ca")
        serve.kubectl("create", "secret", "tls", "shim-ca", f"--cert={cert}", f"--key={key}",
                      "-n", "cert-manager")  # fmt: skip
        serve.apply(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": "shim-ca"},
                "spec": {"ca": {"secretName": "shim-ca"}},
            }
        )
    manifest = INGRESS_YAML.replace("cluster-issuer: le", "cluster-issuer: shim-ca")
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=manifest)
    wait_for(serve, "certificate", "a-tls", namespace)

    def ready() -> bool:
        cond = condition(serve.get("certificate", "a-tls", namespace), "Ready")
        return cond is not None and cond["status"] == "True"

    wait_until(ready, timeout=60)
    secret = serve.get("secret", "a-tls", namespace)
    assert secret["type"] == "kubernetes.io/tls"
    (tmp_path / "tls.crt").write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    text = openssl("x509", "-in", tmp_path / "tls.crt", "-noout", "-ext", "subjectAltName").stdout
    assert "DNS:a.example.com" in text
    assert "IP Address:10.0.0.1" in text


ISTIO_YAML = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bookinfo
  annotations:
    cert-manager.io/issuer: ca
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
    - port: {number: 443, name: https, protocol: HTTPS}
      hosts: [bookinfo/b.example.com, "*"]
      tls:
        mode: SIMPLE
        credentialName: b-cred
"""


def test_istio_gateway_server_becomes_certificate_named_after_its_credential(
    deployment: Deployment, namespace: str
) -> None:
    serve = deployment.serve
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=ISTIO_YAML)
    cert = wait_for(serve, "certificate", "b-cred", namespace)
    assert cert["spec"]["secretName"] == "b-cred"
    assert cert["spec"]["dnsNames"] == ["b.example.com"]
    assert cert["metadata"]["ownerReferences"][0]["apiVersion"] == "networking.istio.io/v1"


def test_httproute_and_ingressclass_are_served_with_their_columns(
    deployment: Deployment, namespace: str
) -> None:
    serve = deployment.serve
    serve.apply(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "route", "namespace": namespace},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["r.example.com"]},
        }
    )
    serve.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": f"{namespace}-nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    )
    routes = serve.kubectl("get", "httproute", "-n", namespace).stdout.splitlines()
    assert routes[0].split() == ["NAME", "HOSTNAMES", "AGE"]
    assert routes[1].split()[:2] == ["route", '["r.example.com"]']
    classes = serve.kubectl("get", "ingressclass", f"{namespace}-nginx").stdout.splitlines()
    assert classes[0].split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
    assert classes[1].split()[:3] == [f"{namespace}-nginx", "k8s.io/ingress-nginx", "<none>"]
