"""More unmodified kubectl against ``certsmith serve``: wait, describe, finalizers, GC, CRDs.

The controllers are off (``--controllers=none``): these tests pin the API server's behaviour,
and status is written by the tests themselves. Each test works in its own namespace.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servertools import ServeProcess, kubectl_path, serve_subprocess, wait_until

pytestmark = pytest.mark.e2e

CR_FILE = Path(__file__).parent.parent / "data" / "my-ca-cr.yaml"
_namespaces = itertools.count()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    data = tmp_path_factory.mktemp("serve-more") / "data"
    with serve_subprocess(data, extra_args=("--controllers=none",)) as proc:
        yield proc


@pytest.fixture
def ns(served: ServeProcess) -> str:
    name = f"e2e-{next(_namespaces)}"
    served.kubectl("create", "namespace", name)
    return name


def apply(served: ServeProcess, obj: dict[str, Any], *args: str) -> str:
    return served.kubectl("apply", "-f", "-", *args, input_text=json.dumps(obj)).stdout


def certificate(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca", "kind": "Issuer"},
        },
    }


def secret(name: str, namespace: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "stringData": {"k": "v"},
    }


def jsonpath(served: ServeProcess, *args: str, path: str) -> str:
    return served.kubectl("get", *args, "-o", f"jsonpath={path}").stdout


def not_found(served: ServeProcess, *args: str) -> bool:
    result = served.kubectl("get", *args, check=False)
    return result.returncode != 0 and "NotFound" in result.stderr


def kubectl_env(served: ServeProcess) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(served.kubeconfig),
        "KUBECACHEDIR": str(served.cache_dir),
        "HOME": str(served.cache_dir),
    }


def event(name: str, namespace: str, involved: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": involved,
        "reason": reason,
        "message": f"{reason} happened",
        "type": "Normal",
        "source": {"component": "e2e"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }


def test_wait_for_condition_ready_returns_once_the_status_is_patched(
    served: ServeProcess, ns: str
) -> None:
    apply(served, certificate("w1", ns))
    wait_cmd = [
        str(kubectl_path()),
        "wait",
        "--for=condition=Ready",
        "certificate/w1",
        "-n",
        ns,
        "--timeout=30s",
    ]
    with subprocess.Popen(
        wait_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl_env(served)
    ) as waiter:
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "Certificate is up to date and has not expired",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
        served.kubectl(
            "patch",
            "certificate",
            "w1",
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"conditions": [ready]}}),
        )
        out, err = waiter.communicate(timeout=40)
    assert waiter.returncode == 0, err
    assert "certificate.cert-manager.io/w1 condition met" in out


def test_describe_certificaterequest_shows_its_events(served: ServeProcess, ns: str) -> None:
    served.kubectl("apply", "-n", ns, "-f", str(CR_FILE))
    uid = jsonpath(served, "cr", "my-ca-cr", "-n", ns, path="{.metadata.uid}")
    involved = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "name": "my-ca-cr",
        "namespace": ns,
        "uid": uid,
    }
    apply(served, event("my-ca-cr.1", ns, involved, "IssuerNotFound"))
    out = served.kubectl("describe", "certificaterequest", "my-ca-cr", "-n", ns).stdout
    assert "Events:" in out
    assert "IssuerNotFound" in out
    assert "IssuerNotFound happened" in out


def test_get_events_filters_by_involved_object_name(served: ServeProcess, ns: str) -> None:
    for name, target in (("a.1", "alpha"), ("b.1", "beta")):
        involved = {"kind": "Certificate", "name": target, "namespace": ns}
        apply(served, event(name, ns, involved, f"About{target}"))
    out = served.kubectl(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.name=alpha", "-o", "name"
    ).stdout
    assert out.split() == ["event/a.1"]


def test_a_finalizer_holds_deletion_until_it_is_removed(served: ServeProcess, ns: str) -> None:
    served.kubectl("create", "secret", "generic", "held", "-n", ns, "--from-literal=a=b")
    served.kubectl(
        "patch",
        "secret",
        "held",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"metadata": {"finalizers": ["example.com/hold"]}}),
    )
    served.kubectl("delete", "secret", "held", "-n", ns, "--wait=false")
    assert jsonpath(served, "secret", "held", "-n", ns, path="{.metadata.deletionTimestamp}")
    served.kubectl(
        "patch",
        "secret",
        "held",
        "-n",
        ns,
        "--type=json",
        "-p",
        json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]),
    )
    assert not_found(served, "secret", "held", "-n", ns)


def test_deleting_a_certificate_deletes_the_secret_it_owns(served: ServeProcess, ns: str) -> None:
    apply(served, certificate("owner", ns))
    uid = jsonpath(served, "certificate", "owner", "-n", ns, path="{.metadata.uid}")
    ref = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "name": "owner",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    apply(served, secret("owner-tls", ns, ownerReferences=[ref]))
    served.kubectl("delete", "certificate", "owner", "-n", ns)
    wait_until(lambda: not_found(served, "secret", "owner-tls", "-n", ns))


def test_orphan_cascade_keeps_the_secret_without_its_owner_reference(
    served: ServeProcess, ns: str
) -> None:
    apply(served, certificate("owner", ns))
    uid = jsonpath(served, "certificate", "owner", "-n", ns, path="{.metadata.uid}")
    ref = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "owner", "uid": uid}
    apply(served, secret("kept", ns, ownerReferences=[ref]))
    served.kubectl("delete", "certificate", "owner", "-n", ns, "--cascade=orphan")
    assert not_found(served, "certificate", "owner", "-n", ns)
    assert jsonpath(served, "secret", "kept", "-n", ns, path="{.metadata.ownerReferences}") == ""


def test_a_label_selector_filters_get(served: ServeProcess, ns: str) -> None:
    for name, app in (("one", "a"), ("two", "b"), ("three", "a")):
        apply(served, secret(name, ns, labels={"app": app}))
    out = served.kubectl("get", "secrets", "-n", ns, "-l", "app=a", "-o", "name").stdout
    assert sorted(out.split()) == ["secret/one", "secret/three"]
    out = served.kubectl("get", "secrets", "-n", ns, "-l", "app notin (a)", "-o", "name").stdout
    assert out.split() == ["secret/two"]


def test_get_with_a_chunk_size_pages_through_every_object(served: ServeProcess, ns: str) -> None:
    for i in range(7):
        apply(served, secret(f"s{i}", ns))
    result = served.kubectl("get", "secrets", "-n", ns, "--chunk-size=2", "-o", "name", "-v=6")
    assert sorted(result.stdout.split()) == [f"secret/s{i}" for i in range(7)]
    assert result.stderr.count("limit=2") == 4
    assert "continue=" in result.stderr


def test_replace_with_a_stale_resource_version_is_a_conflict(served: ServeProcess, ns: str) -> None:
    apply(served, secret("racy", ns))
    stale = json.loads(served.kubectl("get", "secret", "racy", "-n", ns, "-o", "json").stdout)
    served.kubectl("label", "secret", "racy", "-n", ns, "moved=on")
    stale["metadata"]["labels"] = {"mine": "yes"}
    result = served.kubectl("replace", "-f", "-", input_text=json.dumps(stale), check=False)
    assert result.returncode != 0
    assert "Conflict" in result.stderr
    assert "the object has been modified" in result.stderr


def test_deleting_a_namespace_removes_its_objects(served: ServeProcess) -> None:
    served.kubectl("create", "namespace", "doomed")
    apply(served, secret("inside", "doomed"))
    apply(served, certificate("inside", "doomed"))
    out = served.kubectl("delete", "namespace", "doomed", timeout=90).stdout
    assert 'namespace "doomed" deleted' in out
    assert not_found(served, "namespace", "doomed")
    assert (
        served.kubectl("get", "secrets,certificates", "-A", "-o", "name").stdout.count("inside")
        == 0
    )


def test_server_side_apply_creates_updates_and_reports_conflicts(
    served: ServeProcess, ns: str
) -> None:
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa", "namespace": ns},
        "data": {"color": "blue", "size": "m"},
    }
    assert "serverside-applied" in apply(served, config_map, "--server-side")
    del config_map["data"]["size"]
    apply(served, config_map, "--server-side")
    assert jsonpath(served, "cm", "ssa", "-n", ns, path="{.data}") == '{"color":"blue"}'
    config_map["data"]["color"] = "red"
    result = served.kubectl(
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "-f",
        "-",
        input_text=json.dumps(config_map),
        check=False,
    )
    assert result.returncode != 0
    assert "conflict" in result.stderr.lower()
    apply(served, config_map, "--server-side", "--field-manager=intruder", "--force-conflicts")
    assert jsonpath(served, "cm", "ssa", "-n", ns, path="{.data.color}") == "red"


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "description": "Widget is a thing for tests.",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "What the widget should be.",
                                "properties": {
                                    "size": {"type": "integer", "description": "How big."}
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_a_crd_applied_at_runtime_is_served_to_kubectl(served: ServeProcess, ns: str) -> None:
    assert "created" in apply(served, WIDGET_CRD)
    served.kubectl(
        "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s"
    )
    assert "No resources found" in served.kubectl("get", "widgets", "-n", ns).stderr
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": ns},
        "spec": {"size": 3},
    }
    assert "widget.example.com/w created" in apply(served, widget)
    table = served.kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE"]  # printer columns replace the default Age
    assert table[1].split()[:2] == ["w", "3"]
    explained = served.kubectl("explain", "widget.spec").stdout
    assert "size" in explained
    assert "How big." in explained
    served.kubectl("delete", "crd", "widgets.example.com", timeout=60)
    result = served.kubectl("get", "widgets", "-n", ns, check=False)
    assert result.returncode != 0


def test_server_side_apply_takes_over_a_client_side_applied_object(
    served: ServeProcess, ns: str
) -> None:
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "migrated", "namespace": ns},
        "data": {"color": "blue"},
    }
    assert "created" in apply(served, config_map)
    config_map["data"]["color"] = "green"
    assert "serverside-applied" in apply(served, config_map, "--server-side")
    managers = jsonpath(
        served,
        "cm",
        "migrated",
        "-n",
        ns,
        "--show-managed-fields",
        path="{.metadata.managedFields[*].manager}",
    )
    assert "kubectl" in managers.split()
    assert jsonpath(served, "cm", "migrated", "-n", ns, path="{.data.color}") == "green"


def test_server_side_apply_conflicts_with_a_field_set_by_kubectl_patch(
    served: ServeProcess, ns: str
) -> None:
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "patched", "namespace": ns},
        "data": {"color": "blue"},
    }
    apply(served, config_map, "--server-side")
    served.kubectl(
        "patch", "cm", "patched", "-n", ns, "--type=merge", "-p", '{"data":{"color":"red"}}'
    )
    config_map["data"]["color"] = "green"
    result = served.kubectl(
        "apply", "--server-side", "-f", "-", input_text=json.dumps(config_map), check=False
    )
    assert result.returncode != 0
    assert 'conflict with "kubectl-patch"' in result.stderr


def test_foreground_cascade_deletes_the_dependent_before_the_owner(
    served: ServeProcess, ns: str
) -> None:
    apply(served, certificate("fg", ns))
    uid = jsonpath(served, "certificate", "fg", "-n", ns, path="{.metadata.uid}")
    ref = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "name": "fg",
        "uid": uid,
        "blockOwnerDeletion": True,
    }
    apply(served, secret("fg-tls", ns, ownerReferences=[ref]))
    out = served.kubectl("delete", "certificate", "fg", "-n", ns, "--cascade=foreground").stdout
    assert 'certificate.cert-manager.io "fg" deleted' in out
    assert not_found(served, "certificate", "fg", "-n", ns)
    assert not_found(served, "secret", "fg-tls", "-n", ns)
