"""``certsmith serve`` / ``certsmith controller`` processes and kubectl for e2e tests.

Unlike :func:`tests.servertools.serve_subprocess`, output goes to log files, not pipes: a
controller logs a line per reconcile, and a pipe nobody reads fills up and blocks the process.
Processes can be killed (SIGKILL) and restarted on the same data dir and port, so clients keep
their kubeconfig across a restart.

:class:`Deployment` is how controller tests run in both deployment modes (:data:`MODES`):
``serve`` (controllers inside ``certsmith serve``) and ``split`` (``certsmith serve
--controllers=none`` plus a separate ``certsmith controller --kubeconfig`` with the same
controller flags). A test talks to :attr:`Deployment.serve` (kubectl) either way and restarts or
kills "the controllers" without knowing which process holds them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal

from tests.servertools import free_port, kubectl_path, wait_until

CERTSMITH = Path(sys.executable).parent / "certsmith"

Mode = Literal["serve", "split"]
MODES: Final[tuple[Mode, ...]] = ("serve", "split")


class Proc:
    """One certsmith process whose stdout/stderr go to ``<log_dir>/<name>.log``."""

    def __init__(self, name: str, args: Sequence[str], log_dir: Path) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self) -> None:
        """Start (or restart) the process; earlier output stays in the log."""
        assert self.process is None or self.process.poll() is not None
        with self.log_path.open("ab") as log:
            self._offset = log.tell()
            self.process = subprocess.Popen(
                [str(CERTSMITH), *self.args], stdout=log, stderr=subprocess.STDOUT
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
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this server as admin."""
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
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


class Deployment:
    """The API server and the controllers, in one process (``serve``) or two (``split``)."""

    def __init__(self, mode: Mode, root: Path, controller_args: Sequence[str] = ()) -> None:
        self.mode = mode
        self.controller: Proc | None = None
        if mode == "serve":
            self.serve = Serve(root / "data", root, controller_args)
        else:
            self.serve = Serve(root / "data", root, ["--controllers=none"])
            self.controller = controller_proc(
                f"controller-{self.serve.port}", self.serve, root, *controller_args
            )

    @property
    def controllers(self) -> Proc:
        """The process the controllers run in."""
        return self.serve if self.controller is None else self.controller

    def start(self) -> None:
        """Start the server, then (split) the controller process, and wait for both."""
        self.serve.start()
        if self.controller is not None:
            self.controller.start()
            wait_controllers_started(self.controller)

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
        wait_controllers_started(self.controller)


@contextmanager
def deployed(mode: Mode, root: Path, controller_args: Sequence[str] = ()) -> Iterator[Deployment]:
    """A started :class:`Deployment`, stopped on exit whatever the test did."""
    deployment = Deployment(mode, root, controller_args)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


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
