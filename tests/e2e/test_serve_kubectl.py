"""Unmodified kubectl against a real ``certsmith serve`` process (K8S-API §3.8)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servertools import ServeProcess, kubectl_path, serve_subprocess

pytestmark = pytest.mark.e2e

CR_FILE = Path(__file__).parent.parent / "data" / "my-ca-cr.yaml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    with serve_subprocess(tmp_path_factory.mktemp("serve") / "data") as proc:
        yield proc


def test_apply_get_and_reapply(served: ServeProcess) -> None:
    out = served.kubectl("apply", "-f", str(CR_FILE)).stdout
    assert "certificaterequest.cert-manager.io/my-ca-cr created" in out
    table = served.kubectl("get", "certificaterequests").stdout
    header = table.splitlines()[0].split()
    assert header == ["NAME", "APPROVED", "DENIED", "READY", "ISSUER", "REQUESTER", "AGE"]
    assert "ca-issuer" in table
    assert "admin" in table
    all_ns = served.kubectl("get", "cr", "-A").stdout
    assert all_ns.splitlines()[1].startswith("default")
    assert (
        "kind: CertificateRequest" in served.kubectl("get", "cr", "my-ca-cr", "-o", "yaml").stdout
    )
    assert "unchanged" in served.kubectl("apply", "-f", str(CR_FILE)).stdout


def test_label_annotate_and_configured(served: ServeProcess) -> None:
    served.kubectl("apply", "-f", str(CR_FILE))
    assert "labeled" in served.kubectl("label", "cr", "my-ca-cr", "team=a").stdout
    assert "annotated" in served.kubectl("annotate", "cr", "my-ca-cr", "note=x").stdout
    shown = served.kubectl("get", "cr", "-l", "team=a", "--show-labels").stdout
    assert "team=a" in shown


def test_spec_immutability_and_webhook_wording(served: ServeProcess) -> None:
    served.kubectl("apply", "-f", str(CR_FILE))
    changed = CR_FILE.read_text().replace("duration: 2160h", "duration: 1h")
    result = served.kubectl("apply", "-f", "-", input_text=changed, check=False)
    assert result.returncode != 0
    assert 'admission webhook "webhook.cert-manager.io" denied the request' in result.stderr
    assert "cannot change spec after creation" in result.stderr


def test_admission_rejection(served: ServeProcess) -> None:
    bad = CR_FILE.read_text().replace("name: my-ca-cr", "name: bad-cr")
    bad = bad.replace("kind: Issuer", "kind: Nope")
    result = served.kubectl("apply", "-f", "-", input_text=bad, check=False)
    assert result.returncode != 0
    assert "denied the request" in result.stderr or "Invalid" in result.stderr


def test_create_secret_protobuf(served: ServeProcess) -> None:
    out = served.kubectl("create", "secret", "generic", "s1", "--from-literal=a=b").stdout
    assert "secret/s1 created" in out
    assert "Opaque" in served.kubectl("get", "secret", "s1").stdout


def test_explain(served: ServeProcess) -> None:
    out = served.kubectl("explain", "certificaterequest.spec").stdout
    assert "issuerRef" in out


def test_watch_receives_event_and_delete(served: ServeProcess) -> None:
    served.kubectl("apply", "-f", str(CR_FILE))
    env_cmd = [str(kubectl_path()), "get", "cr", "-w", "--request-timeout=20s"]
    import os

    env = {
        **os.environ,
        "KUBECONFIG": str(served.kubeconfig),
        "KUBECACHEDIR": str(served.cache_dir),
        "HOME": str(served.cache_dir),
    }
    with subprocess.Popen(env_cmd, stdout=subprocess.PIPE, text=True, env=env) as watcher:
        time.sleep(1.5)
        served.kubectl("label", "cr", "my-ca-cr", "w=1", "--overwrite")
        served.kubectl("delete", "cr", "my-ca-cr")
        time.sleep(1.0)
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    assert out.count("my-ca-cr") >= 2
    assert "NotFound" in served.kubectl("get", "cr", "my-ca-cr", check=False).stderr
