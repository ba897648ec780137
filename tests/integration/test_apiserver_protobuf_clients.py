"""client-go programs configured for protobuf (``ContentType: application/vnd.kubernetes.protobuf``)
write Leases (leader election) and Events that way; the server reads them like JSON bodies.

Bodies are laid out by :mod:`tests.prototools` with coordination/v1 and core/v1 field numbers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.prototools import (
    envelope,
    field_bytes,
    field_varint,
    message,
    timestamp,
)
from tests.servertools import admin_client, running_server

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
EVENTS = "/api/v1/namespaces/default/events"
PROTOBUF = {
    "Content-Type": "application/vnd.kubernetes.protobuf",
    "Accept": "application/vnd.kubernetes.protobuf, */*",
}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_server(tmp_path / "data") as server,
        admin_client(server, tmp_path / "creds") as client,
    ):
        yield client


def lease(holder: str, renew: int, resource_version: str = "") -> bytes:
    # ObjectMeta{1 name, 3 namespace, 6 resourceVersion}; LeaseSpec{1 holderIdentity,
    # 2 leaseDurationSeconds, 3 acquireTime, 4 renewTime, 5 leaseTransitions}
    meta = field_bytes(1, "controller-lock") + field_bytes(3, "default")
    meta += field_bytes(6, resource_version)
    spec = message(
        2,
        field_bytes(1, holder),
        field_varint(2, 15),
        timestamp(3, 1735819200),
        timestamp(4, renew, 250_000_000),
        field_varint(5, 0),
    )
    return envelope("coordination.k8s.io/v1", "Lease", field_bytes(1, meta) + spec)


async def test_leader_election_with_protobuf_lease_bodies(http: httpx.AsyncClient) -> None:
    created = await http.post(LEASES, content=lease("pod-a", 1735819200), headers=PROTOBUF)
    assert created.status_code == 201, created.text
    assert created.headers["Content-Type"].startswith("application/json")
    spec = created.json()["spec"]
    assert spec == {
        "holderIdentity": "pod-a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2025-01-02T12:00:00.000000Z",
        "renewTime": "2025-01-02T12:00:00.250000Z",
        "leaseTransitions": 0,
    }
    rv = created.json()["metadata"]["resourceVersion"]
    renewed = await http.put(
        f"{LEASES}/controller-lock", content=lease("pod-a", 1735819210, rv), headers=PROTOBUF
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["spec"]["renewTime"] == "2025-01-02T12:00:10.250000Z"
    # A candidate still holding the old resourceVersion loses the race, as it must.
    stale = await http.put(
        f"{LEASES}/controller-lock", content=lease("pod-b", 1735819211, rv), headers=PROTOBUF
    )
    assert (stale.status_code, stale.json()["reason"]) == (409, "Conflict")


async def test_protobuf_event_is_listed_by_involved_object(http: httpx.AsyncClient) -> None:
    # Event{1 metadata, 2 involvedObject{1 kind, 2 namespace, 3 name}, 3 reason, 4 message,
    #       5 source{1 component}, 6 firstTimestamp, 7 lastTimestamp, 8 count, 9 type}
    raw = field_bytes(1, field_bytes(1, "demo.1") + field_bytes(3, "default"))
    raw += message(
        2, field_bytes(1, "Certificate"), field_bytes(2, "default"), field_bytes(3, "demo")
    )
    raw += field_bytes(3, "Issuing") + field_bytes(
        4, "Issuing certificate as Secret does not exist"
    )
    raw += message(5, field_bytes(1, "cert-manager-certificates-trigger"))
    raw += timestamp(6, 1735819200) + timestamp(7, 1735819200) + field_varint(8, 1)
    raw += field_bytes(9, "Normal")
    created = await http.post(EVENTS, content=envelope("v1", "Event", raw), headers=PROTOBUF)
    assert created.status_code == 201, created.text
    listed = await http.get(
        EVENTS, params={"fieldSelector": "involvedObject.name=demo,involvedObject.kind=Certificate"}
    )
    [event] = listed.json()["items"]
    assert (event["reason"], event["type"], event["count"]) == ("Issuing", "Normal", 1)
    assert event["source"] == {"component": "cert-manager-certificates-trigger"}
    assert event["lastTimestamp"] == "2025-01-02T12:00:00Z"
