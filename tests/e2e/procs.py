"""``certsmith serve`` / ``certsmith controller`` processes and kubectl for e2e tests.

Unlike :func:`tests.servertools.serve_subprocess`, output goes to log files, not pipes: a
controller logs a line per reconcile, and a pipe nobody reads fills up and blocks the process.
Processes can be killed (SIGKILL) and restarted on the same data dir and port, so clients keep
their kubeconfig across a restart.

:class:`Deployment` is how controller tests run in both deployment modes (:data:`MODES`):
``serve`` (controllers inside ``certsmith serve``) and ``split`` (``certsmith serve
--controllers=none`` plus a separate ``certsmith controller`` installed as the manifests say:
the rendered Deployment's flags, the ServiceAccount's token, only the RBAC of
``deploy/overlays/cluster``; see :class:`ManifestInstall`). So every split-mode test also proves
the manifests' RBAC is enough: :func:`deployed` fails if the controller was refused anything.
A test talks to :attr:`Deployment.serve` (kubectl as admin) either way and restarts or kills
"the controllers" without knowing which process holds them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal

from tests.e2e.manifestrbac import (
    cluster_objects,
    deployment_args,
    rbac_denials,
    rendered,
    token_kubeconfig,
    with_controller_rules,
    write_token_file,
)
from tests.servertools import free_port, kubectl_path, wait_until

CERTSMITH = Path(sys.executable).parent / "certsmith"
INSTALL_NAMESPACE: Final = "cert-manager"
#: A split controller started after a SIGKILL waits for its predecessor's Lease to expire
#: (the Deployment's 15s, plus a retry period) before it starts its controllers.
LEASE_WAIT: Final = 60.0

Mode = Literal["serve", "split"]
MODES: Final[tuple[Mode, ...]] = ("serve", "split")


class Proc:
    """One certsmith process whose stdout/stderr go to ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = dict(env) if env is not None else None
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self) -> None:
        """Start (or restart) the process; earlier output stays in the log."""
        assert self.process is None or self.process.poll() is not None
        with self.log_path.open("ab") as log:
            self._offset = log.tell()
            self.process = subprocess.Popen(
                [str(CERTSMITH), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if self.env is None else {**os.environ, **self.env},
            )

    def log(self, *, since_start: bool = False) -> str:
        """The output so far (of the latest run only with ``since_start``)."""
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        return data[self._offset if since_start else 0 :].decode(errors="replace")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown at all."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; SIGKILL after ``timeout``. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class Serve(Proc):
    """``certsmith serve`` on a fixed loopback port (kept across restarts)."""

    def __init__(self, data_dir: Path, log_dir: Path, extra_args: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        super().__init__(
            f"serve-{self.port}",
            [
                "serve",
                "--data-dir",
                str(data_dir),
                "--listen",
                f"127.0.0.1:{self.port}",
                *extra_args,
            ],
            log_dir,
        )
        self.cache_dir = log_dir / f"kubecache-{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def controller_kubeconfig(self) -> Path:
        return self.data_dir / "controller.kubeconfig"

    def start(self) -> None:
        """Start and wait until the server printed its ``export KUBECONFIG=`` line."""
        super().start()
        wait_until(self._ready, timeout=30)

    def _ready(self) -> bool:
        if not self.running:
            raise RuntimeError(f"certsmith serve exited:\n{self.log()}")
        return "export KUBECONFIG=" in self.log(since_start=True)

    def kubectl(
        self,
        *args: str,
        input_text: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this server as admin (or as ``kubeconfig``'s user)."""
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig or self.kubeconfig),
            "KUBECACHEDIR": str(self.cache_dir),
            "HOME": str(self.cache_dir),
        }
        result = subprocess.run(
            [str(kubectl_path()), *args],
            input=input_text,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def certsmith(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a certsmith client command (approve, deny) with this server's kubeconfig."""
        return subprocess.run(
            [str(CERTSMITH), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
            timeout=60,
            check=False,
        )

    def apply(self, manifest: dict[str, Any] | str, namespace: str | None = None) -> None:
        """``kubectl apply -f -`` of one object (dict) or YAML text."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        self.kubectl(*args, input_text=text)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """``kubectl get -o json`` of one object."""
        args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
        obj: dict[str, Any] = json.loads(self.kubectl(*args).stdout)
        return obj

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """``kubectl get -o json`` of a collection."""
        args = ["get", kind, "-o", "json"] + (["-n", namespace] if namespace else ["-A"])
        items: list[dict[str, Any]] = json.loads(self.kubectl(*args).stdout)["items"]
        return items


def controller_proc(name: str, serve: Serve, log_dir: Path, *extra: str) -> Proc:
    """``certsmith controller`` against ``serve`` with the controller identity's kubeconfig.

    Its plain-HTTP metrics and probe listeners are off unless ``extra`` turns them on: the
    defaults (``0.0.0.0:9402``/``9403``) would collide between replicas and parallel tests.
    """
    args = ["--metrics-listen-address=0", "--health-probe-bind-address=0", *extra]
    return Proc(
        name, ["controller", "--kubeconfig", str(serve.controller_kubeconfig), *args], log_dir
    )


def wait_controllers_started(proc: Proc, timeout: float = 30) -> None:
    """Wait until ``proc``'s latest run logged that its controllers started."""

    def started() -> bool:
        if not proc.running:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log()}")
        return "started controllers" in proc.log(since_start=True)

    wait_until(started, timeout=timeout)


class ManifestInstall:
    """``deploy/overlays/cluster`` installed on a :class:`Serve`, as on a real cluster.

    What the embedded server serves of the rendered objects is applied with kubectl as admin:
    the Namespace, the ClusterRoles, Roles and their bindings (with ``extra_rules`` added to
    ``certsmith-controller``, as docs/deploy.md tells users to for optional features). The
    ServiceAccount is a bearer token in the server's ``tokens.csv`` for
    ``system:serviceaccount:<namespace>:certsmith`` in the groups a cluster gives it, and
    :meth:`controller_args` are the Deployment's container args, ``$(POD_NAMESPACE)`` expanded.
    """

    def __init__(
        self,
        serve: Serve,
        log_dir: Path,
        *,
        namespace: str = INSTALL_NAMESPACE,
        extra_rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.serve = serve
        self.namespace = namespace
        objects = rendered("cluster", namespace)
        if extra_rules:
            objects = with_controller_rules(objects, [dict(r) for r in extra_rules])
        self.objects = objects
        self.kubeconfig = log_dir / f"sa-{serve.port}.kubeconfig"
        # Read by the server when it starts, so written before it does.
        write_token_file(serve.data_dir, namespace)

    def controller_args(self) -> list[str]:
        """The rendered Deployment's ``certsmith controller`` args (without ``controller``)."""
        args = deployment_args(self.objects, self.namespace)
        assert args[0] == "controller", args
        return args[1:]

    def apply(self) -> None:
        """Apply the Namespace and RBAC to the running server; write the token kubeconfig."""
        self.serve.apply("\n---\n".join(json.dumps(o) for o in cluster_objects(self.objects)))
        token_kubeconfig(self.serve.kubeconfig, self.kubeconfig)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """kubectl as the ServiceAccount (the controller's identity)."""
        return self.serve.kubectl(*args, check=check, kubeconfig=self.kubeconfig)


def manifest_controller_proc(
    name: str, install: ManifestInstall, log_dir: Path, *extra: str
) -> Proc:
    """``certsmith controller`` with the rendered Deployment's flags, as its ServiceAccount.

    Metrics and probe listeners are off (as in :func:`controller_proc`); ``extra`` comes last,
    so a test's flags add to (or override) the Deployment's.
    """
    args = [
        "controller",
        *install.controller_args(),
        "--kubeconfig",
        str(install.kubeconfig),
        "--metrics-listen-address=0",
        "--health-probe-bind-address=0",
        *extra,
    ]
    return Proc(name, args, log_dir)


class Deployment:
    """The API server and the controllers, in one process (``serve``) or two (``split``).

    In ``split`` mode the controller runs as the install manifests' ServiceAccount, bound only
    by the RBAC of ``deploy/overlays/cluster`` (plus ``extra_rules``), with the Deployment's
    flags: the Lease and ClusterIssuers' Secrets live in the install namespace ``cert-manager``.
    """

    def __init__(
        self,
        mode: Mode,
        root: Path,
        controller_args: Sequence[str] = (),
        *,
        extra_rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.mode = mode
        self.controller: Proc | None = None
        self.install: ManifestInstall | None = None
        if mode == "serve":
            self.serve = Serve(root / "data", root, controller_args)
        else:
            self.serve = Serve(root / "data", root, ["--controllers=none"])
            self.install = ManifestInstall(self.serve, root, extra_rules=extra_rules)
            self.controller = manifest_controller_proc(
                f"controller-{self.serve.port}", self.install, root, *controller_args
            )

    @property
    def controllers(self) -> Proc:
        """The process the controllers run in."""
        return self.serve if self.controller is None else self.controller

    def start(self) -> None:
        """Start the server, then (split) the controller process, and wait for both."""
        self.serve.start()
        if self.install is not None:
            self.install.apply()
        if self.controller is not None:
            self.controller.start()
            wait_controllers_started(self.controller, timeout=LEASE_WAIT)

    def rbac_denials(self) -> list[str]:
        """The controller's log lines reporting an RBAC refusal (``split``; none in ``serve``,
        whose controllers run as the server's own controller identity)."""
        return [] if self.controller is None else rbac_denials(self.controller.log())

    def stop(self) -> None:
        """SIGTERM the controller process (split), then the server."""
        if self.controller is not None:
            self.controller.stop()
        self.serve.stop()

    def restart_controllers(self) -> None:
        """Stop the controllers gracefully (exit code 0) and start them again."""
        assert self.controllers.stop() == 0, self.controllers.log()
        self.start_controllers()

    def kill_controllers(self) -> None:
        """SIGKILL the process the controllers run in (the server too, in ``serve`` mode)."""
        self.controllers.kill()

    def start_controllers(self) -> None:
        """Start the controllers' process again (after a stop or kill)."""
        if self.controller is None:
            self.serve.start()
            return
        self.controller.start()
        wait_controllers_started(self.controller, timeout=LEASE_WAIT)


@contextmanager
def deployed(
    mode: Mode,
    root: Path,
    controller_args: Sequence[str] = (),
    *,
    extra_rules: Sequence[Mapping[str, Any]] = (),
) -> Iterator[Deployment]:
    """A started :class:`Deployment`, stopped on exit whatever the test did.

    On a normal exit, the split controller's log must hold no RBAC refusal: whatever the test
    had the controllers do, the manifests' rules allowed every call they made.
    """
    deployment = Deployment(mode, root, controller_args, extra_rules=extra_rules)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
    assert deployment.rbac_denials() == [], "\n".join(deployment.rbac_denials())


@contextmanager
def running(*procs: Proc) -> Iterator[None]:
    """Stop every process on exit (SIGTERM, then SIGKILL), whatever the test did."""
    try:
        yield
    finally:
        for proc in reversed(procs):
            proc.stop()


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    """The condition of type ``ctype`` in ``obj.status.conditions``, if any."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            found: dict[str, Any] = cond
            return found
    return None


def elapsed(start: float) -> float:
    """Seconds since ``start`` (``time.monotonic()``)."""
    return time.monotonic() - start
