"""``certsmith serve`` runs its controllers in a child process (``serve-controllers``).

The child is supervised: restarted when it dies, stopped when serve stops or is killed, and
its metrics and readiness are answered through serve's API port.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.certenv import CaNamespace
from tests.e2e.procs import Serve
from tests.servertools import wait_until

pytestmark = pytest.mark.e2e


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> list[str]:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")


def controller_child(serve: Serve) -> int:
    """The pid of serve's ``serve-controllers`` child, once there is one."""
    assert serve.process is not None
    found: list[int] = []

    def present() -> bool:
        assert serve.process is not None
        found[:] = [
            p for p in children(serve.process.pid) if "serve-controllers" in command_line(p)
        ]
        return len(found) == 1

    wait_until(present, timeout=30)
    return found[0]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone too: it runs nothing.
    state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "Z"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path / "data", tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_controllers_run_in_a_child_that_issues_certificates(serve: Serve, tmp_path: Path):
    child = controller_child(serve)
    ns = CaNamespace(serve, "child", tmp_path)
    ns.certificate("web")
    ns.wait_revision("web", 1)
    assert "certsmith.cli.main" in command_line(child)


def test_a_killed_controller_child_is_restarted_and_issues_again(serve: Serve, tmp_path: Path):
    first = controller_child(serve)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: controller_child(serve) != first, timeout=30)
    ns = CaNamespace(serve, "restarted", tmp_path)
    ns.certificate("web")
    ns.wait_revision("web", 1)
    assert "exited with code -9; restarting it" in serve.log()


def test_the_controller_child_stops_when_serve_is_killed(serve: Serve):
    child = controller_child(serve)
    serve.kill()
    wait_until(lambda: gone(child), timeout=20)


def test_the_controller_child_stops_with_serve(serve: Serve):
    child = controller_child(serve)
    assert serve.stop() == 0
    assert gone(child)


def test_serve_answers_metrics_and_readiness_for_its_controller_child(serve: Serve):
    controller_child(serve)
    metrics = serve.kubectl("get", "--raw", "/metrics").stdout
    assert "certmanager_controller_sync_call_count" in metrics
    wait_until(lambda: serve.kubectl("get", "--raw", "/readyz", check=False).stdout == "ok")


def test_no_controller_process_keeps_the_controllers_in_serve(tmp_path: Path):
    server = Serve(tmp_path / "data", tmp_path, ["--no-controller-process"])
    server.start()
    try:
        wait_until(lambda: "started controllers" in server.log())
        assert server.process is not None
        assert children(server.process.pid) == []
        ns = CaNamespace(server, "inproc", tmp_path)
        ns.certificate("web")
        ns.wait_revision("web", 1)
    finally:
        server.stop()
