"""cert-manager manifests and the project's CRD files applied with unmodified kubectl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servertools import ServeProcess, kubectl_path, serve_subprocess

pytestmark = pytest.mark.e2e

CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"

ISSUER = """\
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
  namespace: default
spec:
  selfSigned: {}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    with serve_subprocess(
        tmp_path_factory.mktemp("serve") / "data", extra_args=["--controllers=none"]
    ) as proc:
        yield proc


def test_the_project_crd_files_apply_and_reapply_unchanged(served: ServeProcess) -> None:
    first = served.kubectl("apply", "-k", str(CRD_DIR)).stdout
    assert first.count("customresourcedefinition.apiextensions.k8s.io/") == 6
    again = served.kubectl("apply", "-k", str(CRD_DIR)).stdout.splitlines()
    assert len(again) == 6
    assert all(line.endswith(" unchanged") for line in again)


def test_an_edited_manifest_applies_as_configured(served: ServeProcess) -> None:
    out = served.kubectl("apply", "-f", "-", input_text=ISSUER).stdout
    assert out.strip() == "issuer.cert-manager.io/selfsigned created"
    edited = ISSUER.replace("selfSigned: {}", "selfSigned:\n    crlDistributionPoints: [http://x]")
    out = served.kubectl("apply", "-f", "-", input_text=edited).stdout
    assert out.strip() == "issuer.cert-manager.io/selfsigned configured"
    shown = served.kubectl(
        "get", "issuer", "selfsigned", "-o", "jsonpath={.spec.selfSigned.crlDistributionPoints[0]}"
    ).stdout
    assert shown == "http://x"
