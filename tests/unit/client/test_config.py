from __future__ import annotations

import base64
import datetime as dt
import os
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from certsmith.client.config import FileToken, load_in_cluster, load_kubeconfig
from certsmith.client.errors import ConfigError
from certsmith.client.http import HttpKubeClient
from certsmith.util.clock import FakeClock
from tests import pkitools


def pem_pair() -> tuple[bytes, bytes]:
    cert, key = pkitools.make_root("client", slot=3)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pkitools.pem(cert), key_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    tmp_path: Path, *, cluster: dict[str, Any], user: dict[str, Any], namespace: str | None = None
) -> Path:
    ctx: dict[str, Any] = {"cluster": "c", "user": "u"}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "main",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [
            {"name": "main", "context": ctx},
            {"name": "other", "context": {"cluster": "c", "user": "u", "namespace": "second"}},
        ],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def ca_pem() -> bytes:
    return pkitools.pem(pkitools.make_root("ca")[0])


def test_inline_ca_and_token_with_the_context_namespace(tmp_path):
    path = kubeconfig(
        tmp_path,
        cluster={"server": "https://k:6443/", "certificate-authority-data": b64(ca_pem())},
        user={"token": "abc\n"},
        namespace="team",
    )
    config = load_kubeconfig(path)
    assert config.server == "https://k:6443"
    assert config.namespace == "team"
    assert config.token_source is not None
    assert config.token_source.token().reveal() == "abc"
    assert isinstance(config.ssl_context, ssl.SSLContext)
    assert config.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert "abc" not in repr(config)


def test_an_explicit_context_wins_over_current_context(tmp_path):
    path = kubeconfig(tmp_path, cluster={"server": "http://k"}, user={})
    assert load_kubeconfig(path, "other").namespace == "second"
    assert load_kubeconfig(path).namespace == "default"


def test_inline_client_certificate_leaves_no_file_behind(tmp_path, monkeypatch):
    cert_pem, key_pem = pem_pair()
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    path = kubeconfig(
        tmp_path,
        cluster={"server": "https://k", "certificate-authority-data": b64(ca_pem())},
        user={"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)},
    )
    assert load_kubeconfig(path).ssl_context is not None
    assert list(private_tmp.iterdir()) == []


def test_file_references_resolve_relative_to_the_kubeconfig(tmp_path):
    cert_pem, key_pem = pem_pair()
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki/ca.crt").write_bytes(ca_pem())
    (tmp_path / "pki/client.crt").write_bytes(cert_pem)
    (tmp_path / "pki/client.key").write_bytes(key_pem)
    (tmp_path / "token").write_text("from-file")
    path = kubeconfig(
        tmp_path,
        cluster={"server": "https://k", "certificate-authority": "pki/ca.crt"},
        user={
            "client-certificate": "pki/client.crt",
            "client-key": "pki/client.key",
            "tokenFile": "token",
        },
    )
    config = load_kubeconfig(path)
    assert config.token_source is not None
    assert config.token_source.token().reveal() == "from-file"


def test_insecure_skip_tls_verify_turns_verification_off(tmp_path):
    path = kubeconfig(
        tmp_path, cluster={"server": "https://k", "insecure-skip-tls-verify": True}, user={}
    )
    context = load_kubeconfig(path).ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        ({"server": "http://k"}, {"exec": {"command": "aws"}}, "'exec' authentication"),
        ({"server": "http://k"}, {"auth-provider": {"name": "gcp"}}, "'auth-provider'"),
        ({"server": "ftp://k"}, {}, "http:// or https://"),
        ({}, {}, "has no 'server'"),
        ({"server": "https://k", "certificate-authority-data": "!!"}, {}, "not valid base64"),
        ({"server": "https://k", "certificate-authority": "missing.crt"}, {}, "cannot read"),
        ({"server": "https://k"}, {"client-key-data": b64(b"x")}, "must come together"),
        ({"server": "https://k"}, {"tokenFile": "/nonexistent/token"}, "cannot read token"),
    ],
    ids=[
        "exec plugin",
        "auth provider",
        "bad scheme",
        "no server",
        "bad base64",
        "missing CA file",
        "key without certificate",
        "missing token file",
    ],
)
def test_unusable_kubeconfigs_raise_configerror(tmp_path, cluster, user, message):
    path = kubeconfig(tmp_path, cluster=cluster, user=user)
    with pytest.raises(ConfigError, match=message):
        load_kubeconfig(path)


def test_an_unknown_context_is_named_in_the_error(tmp_path):
    path = kubeconfig(tmp_path, cluster={"server": "http://k"}, user={})
    with pytest.raises(ConfigError, match="no context named 'nope'"):
        load_kubeconfig(path, "nope")


def test_a_mismatched_client_key_is_refused(tmp_path):
    cert_pem, _ = pem_pair()
    other = pkitools.key("p256", slot=7).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = kubeconfig(
        tmp_path,
        cluster={"server": "https://k", "certificate-authority-data": b64(ca_pem())},
        user={"client-certificate-data": b64(cert_pem), "client-key-data": b64(other)},
    )
    with pytest.raises(ConfigError, match="client certificate/key unusable"):
        load_kubeconfig(path)


def service_account(tmp_path: Path, *, namespace: str = "cert-manager") -> Path:
    root = tmp_path / "sa"
    root.mkdir()
    (root / "token").write_text("token-1")
    (root / "ca.crt").write_bytes(ca_pem())
    (root / "namespace").write_text(namespace)
    return root


ENV = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def test_in_cluster_config_comes_from_the_service_account_dir(tmp_path):
    config = load_in_cluster(root=service_account(tmp_path), environ=ENV)
    assert config.server == "https://10.0.0.1:443"
    assert config.namespace == "cert-manager"
    assert config.token_source is not None
    assert config.token_source.token().reveal() == "token-1"


def test_an_ipv6_service_host_is_bracketed(tmp_path):
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert load_in_cluster(root=service_account(tmp_path), environ=env).server == (
        "https://[fd00::1]:443"
    )


def test_outside_a_cluster_in_cluster_config_fails(tmp_path):
    with pytest.raises(ConfigError, match="not running in a cluster"):
        load_in_cluster(root=service_account(tmp_path), environ={})


def test_a_rotated_token_is_picked_up_after_the_refresh_interval(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("old")
    clock = FakeClock()
    source = FileToken(token_file, clock=clock)
    token_file.write_text("new")
    clock.advance(dt.timedelta(seconds=59))
    assert source.token().reveal() == "old"
    clock.advance(dt.timedelta(seconds=1))
    assert source.token().reveal() == "new"


def test_a_briefly_missing_token_file_keeps_the_last_token(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("old")
    clock = FakeClock()
    source = FileToken(token_file, clock=clock)
    os.remove(token_file)
    clock.advance(dt.timedelta(minutes=5))
    assert source.token().reveal() == "old"


async def test_in_cluster_client_uses_the_service_namespace(tmp_path):
    async with HttpKubeClient.in_cluster(root=service_account(tmp_path), environ=ENV) as client:
        assert client.namespace == "cert-manager"
