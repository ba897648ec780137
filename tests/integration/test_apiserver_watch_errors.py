"""A failure after a watch stream has started ends that stream cleanly, as kube-apiserver does.

Once the 200 and the first chunks are on the wire no second HTTP response can follow, so the
failure becomes one ``ERROR`` watch event carrying a 500 ``InternalError`` Status (its message
only names an error id; the details go to the server log), then the chunked body is ended
properly and the connection stays usable.

The failure is injected into the store's watch (a change-log read that raises, as a disk
error would) because no well-formed request makes a healthy server fail mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from certsmith.apiserver.server import ApiServer
from certsmith.apiserver.storage import watch as store_watch
from tests.servertools import admin_client, running_server

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class DiskError(OSError):
    """What a failing change-log read raises."""


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as started:
        async with admin_client(started, tmp_path / "creds") as http:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before"}}
            assert (await http.post(CONFIGMAPS, json=body)).status_code == 201

        async def failing_fill(self: store_watch.Watch) -> None:
            # Let the watch deliver its initial state, then fail on the next read.
            await asyncio.sleep(0)
            raise DiskError("disk I/O error reading the change log")

        monkeypatch.setattr(store_watch.Watch, "_fill", failing_fill)
        yield started


async def watch_lines(http: httpx.AsyncClient, accept: str = "application/json") -> list[Any]:
    async with http.stream(
        "GET", CONFIGMAPS, params={"watch": "1"}, headers={"Accept": accept}
    ) as response:
        assert response.status_code == 200
        return [json.loads(line) async for line in response.aiter_lines() if line]


async def test_failure_mid_stream_is_one_error_event_then_a_clean_end(
    server: ApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with admin_client(server, tmp_path / "c") as http:
        events = await watch_lines(http)
    assert [e["type"] for e in events] == ["ADDED", "ERROR"]
    status = events[1]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 500, "InternalError")
    assert "disk I/O error" not in status["message"]
    error_id = status["message"].rsplit(" ", 1)[-1]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


async def test_table_watch_failure_is_an_error_event_too(server: ApiServer, tmp_path: Path) -> None:
    async with admin_client(server, tmp_path / "c") as http:
        events = await watch_lines(http, TABLE)
    assert [e["type"] for e in events] == ["ADDED", "ERROR"]
    assert events[0]["object"]["kind"] == "Table"
    assert events[1]["object"]["reason"] == "InternalError"


async def test_connection_serves_the_next_request_after_a_failed_watch(
    server: ApiServer, tmp_path: Path
) -> None:
    async with admin_client(server, tmp_path / "c") as http:
        await watch_lines(http)
        listed = await http.get(CONFIGMAPS)
    assert listed.status_code == 200
    assert [i["metadata"]["name"] for i in listed.json()["items"]] == ["before"]


def _python_client_watch(kubeconfig: Path) -> list[str]:
    api_client = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    seen: list[str] = []
    try:
        api = k8s.CoreV1Api(api_client)
        stream = k8s_watch.Watch()  # type: ignore[no-untyped-call]
        for event in stream.stream(  # type: ignore[no-untyped-call]
            api.list_namespaced_config_map, "default", timeout_seconds=30
        ):
            seen.append(event["object"].metadata.name)
    finally:
        api_client.close()
    return seen


async def test_python_client_watch_raises_the_servers_500(server: ApiServer) -> None:
    with pytest.raises(k8s.ApiException) as caught:
        await asyncio.to_thread(_python_client_watch, server.kubeconfig_path)
    assert caught.value.status == 500
    assert "InternalError" in str(caught.value.reason)
