"""Which HTTP-01 mode a process uses: standalone with a listener, cluster mode without."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsmith.cli.acmeflags import acme_options, http01_listen
from certsmith.cli.main import build_parser
from certsmith.controllers.acme.http01cluster import SolverPodSettings

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("argv", "api_host", "cluster_mode"),
    [
        (("controller",), None, True),
        (("controller", "--acme-http01-listen=127.0.0.1:5002"), None, False),
        (("serve", "--data-dir=d"), "0.0.0.0", False),  # public serve answers on :80
        (("serve", "--data-dir=d"), "127.0.0.1", True),
        (("serve", "--data-dir=d", "--acme-http01-listen=0"), "0.0.0.0", True),
    ],
)
def test_a_process_without_an_http01_listener_is_in_cluster_mode(
    argv: tuple[str, ...], api_host: str | None, cluster_mode: bool
) -> None:
    args = build_parser().parse_args(list(argv))
    options = acme_options(args, http01_listen(args, api_host))
    assert (options.http01_solver is not None) is cluster_mode


def test_solver_pod_flags_are_cert_managers() -> None:
    args = build_parser().parse_args(
        [
            "controller",
            "--acme-http01-solver-image=registry.test/certsmith:2",
            "--acme-http01-solver-resource-request-cpu=20m",
            "--acme-http01-solver-resource-request-memory=32Mi",
            "--acme-http01-solver-resource-limits-cpu=200m",
            "--acme-http01-solver-resource-limits-memory=128Mi",
            "--acme-http01-solver-run-as-non-root=false",
        ]
    )
    assert acme_options(args).http01_solver == SolverPodSettings(
        image="registry.test/certsmith:2",
        requests_cpu="20m",
        requests_memory="32Mi",
        limits_cpu="200m",
        limits_memory="128Mi",
        run_as_non_root=False,
    )


def test_the_default_solver_image_is_the_install_manifests() -> None:
    settings = acme_options(build_parser().parse_args(["controller"])).http01_solver
    assert settings is not None
    deployment = (ROOT / "deploy" / "base" / "deployment.yaml").read_text()
    assert f"image: {settings.image}\n" in deployment
