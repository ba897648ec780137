from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certsmith.apiserver.storage import CompactionPolicy, Store, StoreOptions

NO_AUTO_COMPACTION = StoreOptions(compaction=CompactionPolicy(enabled=False))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "data", options=NO_AUTO_COMPACTION)
    try:
        yield opened
    finally:
        await opened.close()
