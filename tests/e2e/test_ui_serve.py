"""``certsmith serve --ui/--no-ui``: the flag, and whether run_serve mounts /ui."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certsmith.apiserver.server import ApiServer
from certsmith.app import run_serve
from certsmith.cli.main import build_parser
from tests.servertools import admin_client


@pytest.mark.parametrize(("argv", "expected"), [([], True), (["--ui"], True), (["--no-ui"], False)])
def test_serve_serves_the_ui_unless_told_not_to(argv: list[str], expected: bool) -> None:
    args = build_parser().parse_args(["serve", "--data-dir", "d", *argv])
    assert args.ui is expected


@contextlib.asynccontextmanager
async def serving(data_dir: Path, *, ui: bool) -> AsyncIterator[ApiServer]:
    stop = asyncio.Event()
    ready: asyncio.Future[ApiServer] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        run_serve(
            data_dir,
            "127.0.0.1",
            0,
            controllers="none",
            stop=stop,
            on_ready=ready.set_result,
            ui=ui,
        )
    )
    try:
        yield await asyncio.wait_for(asyncio.shield(ready), timeout=30)
    finally:
        stop.set()
        await task


@pytest.mark.parametrize(("ui", "status"), [(True, 200), (False, 404)])
async def test_run_serve_mounts_the_ui_on_the_api_port(tmp_path: Path, ui: bool, status: int):
    async with (
        serving(tmp_path / "data", ui=ui) as server,
        admin_client(server, tmp_path / "creds") as client,
    ):
        response = await client.get("/ui/")
    assert response.status_code == status
    if ui:
        assert "Certificates" in response.text
        assert response.headers["content-type"].startswith("text/html")
