from __future__ import annotations

import pytest

from tests.fakes import StaticIssuerContext


@pytest.fixture
def ctx() -> StaticIssuerContext:
    return StaticIssuerContext()
