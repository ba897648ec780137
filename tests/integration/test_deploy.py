"""The install manifests under ``deploy/``: they render, validate and say what docs/deploy.md says.

* ``kubectl kustomize`` renders every overlay, and ``certsmith install manifests`` (rendered in
  Python, no kubectl) prints the same objects in the same order, also moved to another
  namespace as a further ``namespace:`` overlay would;
* every rendered object validates against the Kubernetes schemas of a current release
  (``kubernetes-validate``'s bundled, offline schemas; CRDs as ``apiextensions.k8s.io/v1``);
* the Deployment, RBAC and Dockerfile have the properties the issue asks for (two replicas
  under leader election, probes, limits, a locked-down security context, Role-only RBAC in
  the namespaced overlay, a non-root image).

Whether the RBAC rules are *enough* is checked by running the controllers with them:
``tests/e2e/test_rbac_manifests*.py``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import dockerfile
import kubernetes_validate
import pytest
import yaml

from certsmith.cli import kustomize
from certsmith.cli.main import main
from tests.servertools import kubectl_path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("cluster", "namespaced")
#: The newest Kubernetes release whose schemas kubernetes-validate bundles (1.31 at least).
K8S_VERSION = kubernetes_validate.latest_version()


def kubectl_kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kubectl_path()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def rendered(overlay: str, namespace: str | None = None) -> list[dict[str, Any]]:
    return kustomize.build(kustomize.overlay_dir(overlay, DEPLOY), namespace=namespace)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = of_kind(objects, kind)
    return found


def moved_overlay(tmp_path: Path, overlay: str, namespace: str) -> Path:
    """An overlay that only sets ``namespace:`` on top of ``overlay``; kustomize takes a base
    directory by relative path only."""
    directory = tmp_path / "moved"
    directory.mkdir()
    base = os.path.relpath(DEPLOY / "overlays" / overlay, directory)
    (directory / "kustomization.yaml").write_text(
        f"namespace: {namespace}\nresources:\n  - {base}\n", encoding="utf-8"
    )
    return directory


# --- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_python_rendering_equals_kubectl_kustomize(overlay):
    assert rendered(overlay) == kubectl_kustomize(DEPLOY / "overlays" / overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_another_namespace_renders_as_a_namespace_overlay_does(tmp_path, overlay):
    expected = kubectl_kustomize(moved_overlay(tmp_path, overlay, "team-a"))

    assert rendered(overlay, "team-a") == expected


@pytest.mark.parametrize(
    ("args", "overlay", "namespace"),
    [
        ([], "cluster", None),
        (["--namespaced"], "namespaced", None),
        (["--namespace", "team-a"], "cluster", "team-a"),
        (["--namespaced", "--namespace", "team-a"], "namespaced", "team-a"),
    ],
)
def test_install_manifests_prints_the_overlay(capsys, args, overlay, namespace):
    assert main(["install", "manifests", *args]) == 0

    printed = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d is not None]
    assert printed == rendered(overlay, namespace)


def test_install_manifests_moves_every_namespaced_object_and_subject(capsys):
    assert main(["install", "manifests", "--namespace", "team-a"]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))

    assert one(objects, "Namespace")["metadata"]["name"] == "team-a"
    namespaced = [o for o in objects if o["kind"] not in kustomize._CLUSTER_SCOPED]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"team-a"}
    subjects = [s for o in objects for s in o.get("subjects") or []]
    assert subjects
    assert {s["namespace"] for s in subjects} == {"team-a"}


def test_install_manifests_refuses_an_invalid_namespace(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["install", "manifests", "--namespace", "Team_A"])

    assert exc.value.code == 2
    assert "invalid namespace 'Team_A'" in capsys.readouterr().err


def test_install_manifests_says_where_it_looked_without_the_deploy_files(
    tmp_path, monkeypatch, capsys
):
    missing = tmp_path / "nowhere"
    monkeypatch.setattr(kustomize, "deploy_dir", lambda: missing)

    assert main(["install", "manifests"]) == 1
    assert f"{missing}/overlays/cluster: no kustomization file" in capsys.readouterr().err


def test_install_manifests_reads_the_deploy_dir_named_by_the_environment(
    tmp_path, monkeypatch, capsys
):
    # Where an install keeps deploy/ (the image: <prefix>/share/certsmith/deploy), or an override.
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    deployment = copy / "base" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("replicas: 2", "replicas: 3"))
    monkeypatch.setenv(kustomize.DEPLOY_DIR_ENV, str(copy))

    assert kustomize.deploy_dir() == copy
    assert main(["install", "manifests"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert one(printed, "Deployment")["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ("resources: [a.yaml]\ncommonLabels: {a: b}\n", "unsupported field(s) commonLabels"),
        ("resources: [missing.yaml]\n", "resource 'missing.yaml' does not exist"),
        ("resources: [../outside.yaml]\n", "a file outside"),
        (
            "resources: [a.yaml]\npatches:\n  - target: {kind: Service}\n    patch: '[]'\n",
            "matches nothing",
        ),
    ],
)
def test_unsupported_or_broken_kustomizations_are_refused(tmp_path, kustomization, message):
    base = tmp_path / "base"
    base.mkdir()
    (tmp_path / "outside.yaml").write_text("kind: ConfigMap\nmetadata: {name: o}\n")
    (base / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (base / "kustomization.yaml").write_text(kustomization)

    with pytest.raises(kustomize.KustomizeError, match=re.escape(message)):
        kustomize.build(base)


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/data/b", "value": "2"}], {"a": "1", "b": "2"}),
        ([{"op": "replace", "path": "/data/a", "value": "9"}], {"a": "9"}),
        ([{"op": "remove", "path": "/data/a"}], {}),
    ],
)
def test_json_6902_patches_add_replace_and_remove(tmp_path, ops, expected):
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["cm.yaml"],
                "patches": [
                    {"target": {"kind": "ConfigMap", "name": "c"}, "patch": yaml.safe_dump(ops)}
                ],
            }
        )
    )

    (built,) = kustomize.build(tmp_path)

    assert built["data"] == expected
    assert kubectl_kustomize(tmp_path) == [built]


# --- schemas -----------------------------------------------------------------------------------


def test_the_bundled_schemas_are_a_current_release():
    major, minor, *_ = K8S_VERSION.split(".")
    assert (int(major), int(minor)) >= (1, 31)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(overlay):
    objects = rendered(overlay)
    assert len(objects) > 10

    for obj in objects:
        # strict: unknown fields are errors too (a typo in a field name would be dropped by
        # the apiserver silently).
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_validation_catches_a_misspelt_field():
    deployment = one(rendered("cluster"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_crds_are_apiextensions_v1_crds_for_the_six_resources():
    crds = of_kind(rendered("cluster"), "CustomResourceDefinition")

    assert {c["apiVersion"] for c in crds} == {"apiextensions.k8s.io/v1"}
    assert sorted(c["metadata"]["name"] for c in crds) == [
        "certificaterequests.cert-manager.io",
        "certificates.cert-manager.io",
        "challenges.acme.cert-manager.io",
        "clusterissuers.cert-manager.io",
        "issuers.cert-manager.io",
        "orders.acme.cert-manager.io",
    ]


# --- what the manifests say --------------------------------------------------------------------


def controller_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_the_default_namespace_is_cert_managers():
    objects = rendered("cluster")

    assert one(objects, "Namespace")["metadata"]["name"] == "cert-manager"
    assert one(objects, "Deployment")["metadata"]["namespace"] == "cert-manager"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_deployment_runs_two_replicas_under_leader_election_in_its_namespace(overlay):
    objects = rendered(overlay)
    deployment = one(objects, "Deployment")
    container = controller_container(objects)
    args = container["args"]

    assert deployment["spec"]["replicas"] == 2
    assert args[0] == "controller"
    assert "--leader-elect" in args
    assert "--leader-election-namespace=$(POD_NAMESPACE)" in args
    assert "--cluster-resource-namespace=$(POD_NAMESPACE)" in args
    (env,) = container["env"]
    assert env == {
        "name": "POD_NAMESPACE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    }
    assert ("--namespace=$(POD_NAMESPACE)" in args) is (overlay == "namespaced")


def test_the_flags_are_accepted_by_certsmith_controller():
    from certsmith.cli.main import build_parser

    args = controller_container(rendered("namespaced"))["args"]
    expanded = [a.replace("$(POD_NAMESPACE)", "cert-manager") for a in args]

    parsed = build_parser().parse_args(expanded)

    assert parsed.namespace == "cert-manager"
    assert parsed.leader_elect
    assert parsed.cluster_resource_namespace == "cert-manager"


def test_the_probes_and_metrics_use_the_controllers_ports():
    objects = rendered("cluster")
    container = controller_container(objects)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    assert ports == {"http-metrics": 9402, "http-healthz": 9403}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http-healthz"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-healthz"}
    service = one(objects, "Service")
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (9402, "http-metrics")
    labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_the_container_is_locked_down_and_has_requests_and_limits():
    objects = rendered("cluster")
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    container = controller_container(objects)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert pod["serviceAccountName"] == one(objects, "ServiceAccount")["metadata"]["name"]


def test_the_namespaced_overlay_grants_nothing_cluster_wide():
    objects = rendered("namespaced")

    assert of_kind(objects, "ClusterRole") == []
    assert of_kind(objects, "ClusterRoleBinding") == []
    for binding in of_kind(objects, "RoleBinding"):
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["metadata"]["namespace"] == "cert-manager"


def test_the_cluster_overlay_approves_only_cert_managers_own_signers():
    objects = rendered("cluster")
    rules = [r for o in of_kind(objects, "ClusterRole") for r in o["rules"]]
    signers = [r for r in rules if "signers" in r["resources"]]

    assert signers == [
        {
            "apiGroups": ["cert-manager.io"],
            "resources": ["signers"],
            "verbs": ["approve"],
            "resourceNames": ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"],
        }
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_rule_uses_wildcards_or_escalation_verbs(overlay):
    objects = rendered(overlay)
    rules = [r for o in objects if o["kind"] in ("Role", "ClusterRole") for r in o["rules"]]

    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"])


# --- the image ---------------------------------------------------------------------------------


def dockerfile_commands() -> list[dockerfile.Command]:
    """The Dockerfile parsed by BuildKit's own parser (the ``dockerfile`` package)."""
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def test_the_dockerfile_builds_from_python_311_slim_and_runs_as_a_non_root_user():
    # No registry here for the base image, so the image is not built in CI: this checks what
    # BuildKit's parser makes of the file.
    commands = dockerfile_commands()
    froms = [c.value for c in commands if c.cmd == "FROM"]
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    runs = " ".join(c.value[0] for c in commands if c.cmd == "RUN")
    (entrypoint,) = [c for c in commands if c.cmd == "ENTRYPOINT"]

    assert froms
    assert all(f[0].startswith("python:3.11-slim") for f in froms)
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "pip install" in runs
    assert entrypoint.json
    assert entrypoint.value == ("certsmith",)


def test_the_dockerfile_copies_what_exists_from_stages_it_defines():
    commands = dockerfile_commands()
    stages = {c.value[2] for c in commands if c.cmd == "FROM" and len(c.value) == 3}
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())

    for command in (c for c in commands if c.cmd == "COPY"):
        *sources, _ = command.value
        from_stage = [f.removeprefix("--from=") for f in command.flags if f.startswith("--from=")]
        if from_stage:
            assert from_stage[0] in stages
            continue
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, source


def test_the_image_user_matches_the_deployments_run_as_user():
    users = [c.value[0] for c in dockerfile_commands() if c.cmd == "USER"]
    pod = one(rendered("cluster"), "Deployment")["spec"]["template"]["spec"]

    uid, _, gid = users[-1].partition(":")
    assert int(uid) == pod["securityContext"]["runAsUser"]
    assert int(gid) == pod["securityContext"]["runAsGroup"]


def test_the_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()

    for entry in (".venv", ".certsmith", ".git"):
        assert entry in ignored, shlex.quote(entry)
