"""The Challenge scheduler's choice (SPEC §6.4): oldest first, one per (dnsName, type), limits."""

from __future__ import annotations

from typing import Any

from certsmith.controllers.acme.scheduler import select


def challenge(
    name: str,
    dns_name: str = "a.example.com",
    type_: str = "HTTP-01",
    *,
    created: str = "2026-01-01T00:00:00Z",
    processing: bool = False,
    state: str | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = created
    status: dict[str, Any] = {"processing": processing}
    if state:
        status["state"] = state
    return {"metadata": meta, "spec": {"dnsName": dns_name, "type": type_}, "status": status}


def names(chosen: list[dict[str, Any]]) -> list[str]:
    return [c["metadata"]["name"] for c in chosen]


def test_oldest_first() -> None:
    chosen, waiting = select(
        [
            challenge("new", "b.example.com", created="2026-01-02T00:00:00Z"),
            challenge("old", "a.example.com", created="2026-01-01T00:00:00Z"),
        ]
    )
    assert names(chosen) == ["old", "new"]
    assert waiting == 0


def test_one_per_name_and_type_and_none_while_that_pair_is_processing() -> None:
    chosen, waiting = select(
        [
            challenge("first", created="2026-01-01T00:00:00Z"),
            challenge("second", created="2026-01-02T00:00:00Z"),
            challenge("dns", type_="DNS-01"),
            challenge("busy", "b.example.com", processing=True),
            challenge("blocked", "b.example.com"),
        ]
    )
    assert names(chosen) == ["dns", "first"]
    assert waiting == 2


def test_final_and_deleted_challenges_are_not_candidates() -> None:
    chosen, waiting = select(
        [
            challenge("done", state="valid"),
            challenge("failed", "b.example.com", state="invalid"),
            challenge("gone", "c.example.com", deleting=True),
        ]
    )
    assert chosen == []
    assert waiting == 0


def test_at_most_twenty_per_pass() -> None:
    many = [challenge(f"c{i:02}", f"n{i}.example.com") for i in range(25)]
    chosen, waiting = select(many)
    assert len(chosen) == 20
    assert waiting == 5


def test_never_more_than_max_concurrent_processing() -> None:
    busy = [challenge(f"p{i}", f"p{i}.example.com", processing=True) for i in range(3)]
    waiting_ones = [challenge(f"w{i}", f"w{i}.example.com") for i in range(3)]
    chosen, waiting = select([*busy, *waiting_ones], max_concurrent=4)
    assert names(chosen) == ["w0"]
    assert waiting == 2
