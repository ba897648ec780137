"""The /ui handlers on an in-memory client: escaping, headers, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from certsmith.client.resources import CERTIFICATES
from certsmith.util.clock import FakeClock
from certsmith.web.pages import WebUI
from tests.fakes import FakeKubeClient

NOW = dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.UTC)
HOSTILE = '"><script>alert(1)</script>'


def certificate(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "shop", **meta},
        "spec": {"secretName": "web-tls", "dnsNames": [HOSTILE], "issuerRef": {"name": HOSTILE}},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Pending", "message": HOSTILE}
            ]
        },
    }


@pytest.fixture
def ui() -> WebUI:
    client = FakeKubeClient()
    client.seed(
        CERTIFICATES,
        certificate("web", labels={"team": HOSTILE}, annotations={"owner": HOSTILE}),
    )
    view = WebUI(FakeClock(NOW))
    view.attach(client)
    return view


def get(path: str, **match: str) -> Any:
    request = make_mocked_request("GET", path)
    request.match_info.update(match)
    return request


def assert_escaped(body: str) -> None:
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


async def test_inventory_escapes_every_user_controlled_value(ui: WebUI) -> None:
    response = await ui.inventory(get(f"/ui/?q=%3Cscript%3E&namespace={HOSTILE}"))
    assert response.status == 200
    assert response.text is not None
    assert_escaped(response.text)


async def test_certificate_page_escapes_a_hostile_label_and_annotation(ui: WebUI) -> None:
    response = await ui.certificate(get("/ui/certificates/shop/web", namespace="shop", name="web"))
    assert response.status == 200
    body = response.text
    assert body is not None
    assert_escaped(body)
    assert body.count("&lt;script&gt;") >= 4  # label, annotation, DNS name, issuer, message


async def test_pages_forbid_scripts_framing_and_caching(ui: WebUI) -> None:
    response = await ui.inventory(get("/ui/"))
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # so no script may run, inline or not
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_unknown_certificate_is_404(ui: WebUI) -> None:
    response = await ui.certificate(get("/ui/certificates/shop/x", namespace="shop", name="x"))
    assert response.status == 404


async def test_pages_answer_503_until_a_client_is_attached() -> None:
    view = WebUI(FakeClock(NOW))
    assert (await view.inventory(get("/ui/"))).status == 503
    request = get("/ui/certificates/a/b", namespace="a", name="b")
    assert (await view.certificate(request)).status == 503


def test_routes_cover_the_inventory_and_the_drill_down() -> None:
    paths = [path for _, path, _ in WebUI(FakeClock(NOW)).routes()]
    assert paths == ["/ui", "/ui/", "/ui/certificates/{namespace}/{name}"]
