"""ACME HTTP-01 in cluster mode end to end: certsmith serve, a real pebble, and the test as
kubelet and ingress controller.

certsmith serve runs without an HTTP-01 listener, so each Challenge gets cert-manager's solver
Pod, Service and Ingress in the embedded API server. The test plays the rest of a cluster:

* **kubelet**: it watches the solver pods (polling the API) and runs ``certsmith acmesolver``
  with each pod's container command and args (on a free loopback port instead of 8089: the
  args are followed by ``--listen-port``/``--listen-host`` overrides), and stops it with
  SIGTERM when the pod is deleted;
* **ingress controller**: a loopback HTTP proxy on the port pebble's validation authority
  connects to routes each request by the Ingresses' rules (host, exact path) to the backend
  Service, its selector to the pod, the pod to its acmesolver process.

pebble's DNS resolves every name to 127.0.0.1, and certsmith's self-check goes through the same
proxy, so both the self-check and the CA's validation reach the pods only through the objects
certsmith created.
"""

from __future__ import annotations

import contextlib
import http.server
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.controllers.acme.http01cluster import identity_labels
from tests.e2e.acmetools import (
    NAMESPACE,
    acme_issuer,
    certificate,
    secret_data,
    serve_for_pebble,
    wait_ready,
)
from tests.e2e.procs import CERTSMITH, Mode, Serve
from tests.peers.pebble import Pebble, running_pebble
from tests.servertools import credentials, free_port, wait_until

NAMES = ["web.example.test", "www.example.test"]


@dataclass
class FakeCluster:
    """The kubelet and ingress controller the test plays, and what they saw."""

    api: httpx.Client
    work: Path
    processes: dict[str, tuple[subprocess.Popen[bytes], int]] = field(default_factory=dict)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    seen: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"pods": {}, "services": {}, "ingresses": {}}
    )
    served: list[tuple[str, str, int]] = field(default_factory=list)
    state: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _list(self, path: str) -> list[dict[str, Any]]:
        response = self.api.get(path)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def sync(self) -> None:
        """One kubelet round: start acmesolver for new pods, stop it for deleted ones."""
        state = {
            "pods": self._list(f"/api/v1/namespaces/{NAMESPACE}/pods"),
            "services": self._list(f"/api/v1/namespaces/{NAMESPACE}/services"),
            "ingresses": self._list(f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses"),
        }
        with self.lock:
            self.state = state
            for kind, items in state.items():
                for item in items:
                    self.seen[kind].setdefault(item["metadata"]["name"], item)
        names = {pod["metadata"]["name"] for pod in state["pods"]}
        for pod in state["pods"]:
            name = pod["metadata"]["name"]
            if name in self.processes or name in self.exit_codes:
                continue
            (container,) = pod["spec"]["containers"]
            assert container["command"] == ["certsmith", "acmesolver"]
            port = free_port()
            with (self.work / f"{name}.log").open("wb") as log:
                process = subprocess.Popen(
                    [
                        str(CERTSMITH),
                        *container["command"][1:],
                        *container["args"],
                        f"--listen-port={port}",
                        "--listen-host=127.0.0.1",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            with self.lock:
                self.processes[name] = (process, port)
        for name in [n for n in self.processes if n not in names]:
            process, _ = self.processes.pop(name)
            process.send_signal(signal.SIGTERM)
            self.exit_codes[name] = process.wait(timeout=10)

    def route(self, host: str, path: str) -> int | None:
        """The acmesolver port for ``host`` + ``path`` by the Ingress rules, if any."""
        host = host.rsplit(":", 1)[0]
        with self.lock:
            state = self.state
            services = {s["metadata"]["name"]: s for s in state.get("services", [])}
            for ingress in state.get("ingresses", []):
                for rule in ingress["spec"].get("rules") or []:
                    if rule.get("host", host) != host:
                        continue
                    for entry in (rule.get("http") or {}).get("paths") or []:
                        if entry["pathType"] != "Exact" or entry["path"] != path:
                            continue
                        backend = entry["backend"]["service"]
                        service = services.get(backend["name"])
                        if service is None or backend["port"]["number"] != 8089:
                            continue
                        selector = service["spec"]["selector"]
                        for pod in state["pods"]:
                            labels = pod["metadata"].get("labels") or {}
                            running = self.processes.get(pod["metadata"]["name"])
                            if running and all(labels.get(k) == v for k, v in selector.items()):
                                return running[1]
        return None

    def stop(self) -> None:
        for name, (process, _) in list(self.processes.items()):
            process.send_signal(signal.SIGTERM)
            self.exit_codes[name] = process.wait(timeout=10)
        self.processes.clear()


@contextlib.contextmanager
def fake_cluster(serve: Serve, pebble: Pebble, work: Path) -> Iterator[FakeCluster]:
    """The kubelet loop and the ingress proxy on pebble's HTTP-01 port, while in the block."""
    work.mkdir(parents=True, exist_ok=True)
    creds = credentials(serve.kubeconfig, work / "creds")
    api = httpx.Client(base_url=creds.server, verify=creds.ssl_context(), timeout=10)
    cluster = FakeCluster(api, work)
    stopping = threading.Event()
    failures: list[BaseException] = []

    def kubelet() -> None:
        while not stopping.is_set():
            try:
                cluster.sync()
            except BaseException as exc:  # reported by the test, not lost in the thread
                failures.append(exc)
                return
            stopping.wait(0.2)

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = self.headers.get("Host", "")
            port = cluster.route(host, self.path)
            if port is None:
                self.send_response(404)
                self.end_headers()
                return
            answer = httpx.get(f"http://127.0.0.1:{port}{self.path}", headers={"Host": host})
            cluster.served.append((host, self.path, answer.status_code))
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", pebble.http_port), Proxy)
    threads = [
        threading.Thread(target=kubelet, daemon=True),
        threading.Thread(target=proxy.serve_forever, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield cluster
    finally:
        stopping.set()
        proxy.shutdown()
        proxy.server_close()
        for thread in threads:
            thread.join(timeout=10)
        cluster.stop()
        api.close()
    assert failures == [], failures


@pytest.mark.parametrize("mode", ["serve", "split"])
def test_http01_cluster_mode_solver_objects_serve_the_challenge_and_are_removed(
    tmp_path: Path, mode: Mode
) -> None:
    # split: certsmith controller as the install manifests' ServiceAccount, so their RBAC must
    # allow every solver call (serve_for_pebble fails the test on any refusal).
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(
            tmp_path / "certsmith", pebble, ["--acme-http01-listen=0"], mode=mode
        ) as serve,
        fake_cluster(serve, pebble, tmp_path / "cluster") as cluster,
    ):
        serve.apply(
            acme_issuer("le", pebble, solvers=[{"http01": {"ingress": {"class": "nginx"}}}])
        )
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", NAMES))
        challenges: dict[str, dict[str, Any]] = {}

        def both_challenges() -> bool:
            for item in serve.list("challenge", NAMESPACE):
                challenges[item["spec"]["dnsName"]] = item
            return sorted(challenges) == NAMES

        wait_until(both_challenges, timeout=60)
        wait_ready(serve, "certificate", "web", timeout=180)
        assert secret_data(serve, "web-tls", "tls.crt").startswith(b"-----BEGIN CERTIFICATE-----")

        def all_removed() -> bool:
            return (
                serve.list("challenge", NAMESPACE) == []
                and not cluster.processes
                and cluster.state.get("pods") == []
                and cluster.state.get("services") == []
                and cluster.state.get("ingresses") == []
            )

        wait_until(all_removed, timeout=60)

    # What existed while the Challenges were pending: one pod, Service and Ingress each.
    for dns_name, challenge in challenges.items():
        token, key = challenge["spec"]["token"], challenge["spec"]["key"]
        labels = identity_labels(dns_name, token)
        owner = {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Challenge",
            "name": challenge["metadata"]["name"],
            "uid": challenge["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        mine = {
            kind: [o for o in objs.values() if o["metadata"].get("labels", {}) == labels]
            for kind, objs in cluster.seen.items()
        }
        assert [len(mine[k]) for k in ("pods", "services", "ingresses")] == [1, 1, 1], mine
        (pod,), (service,), (ingress,) = mine["pods"], mine["services"], mine["ingresses"]
        for obj in (pod, service, ingress):
            assert obj["metadata"]["name"].startswith("cm-acme-http-solver-")
            assert obj["metadata"]["ownerReferences"] == [owner]
        assert pod["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
        assert pod["spec"]["containers"][0]["args"] == [
            "--listen-port=8089",
            f"--domain={dns_name}",
            f"--token={token}",
            f"--key={key}",
        ]
        assert service["spec"]["type"] == "NodePort"
        assert service["spec"]["selector"] == labels
        assert service["spec"]["ports"][0]["port"] == 8089
        assert ingress["metadata"]["annotations"] == {
            "kubernetes.io/ingress.class": "nginx",
            "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0",
        }
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == dns_name
        assert rule["http"]["paths"] == [
            {
                "path": f"/.well-known/acme-challenge/{token}",
                "pathType": "Exact",
                "backend": {
                    "service": {"name": service["metadata"]["name"], "port": {"number": 8089}}
                },
            }
        ]
        # The self-check and pebble's validation both went through this pod.
        served = [c for h, p, c in cluster.served if h.startswith(dns_name) and token in p]
        assert served, cluster.served
        assert set(served) == {200}, cluster.served
    # Every acmesolver stopped cleanly on SIGTERM when its pod was deleted.
    assert len(cluster.exit_codes) == 2
    assert set(cluster.exit_codes.values()) == {0}
