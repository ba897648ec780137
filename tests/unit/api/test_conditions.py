"""Condition types, reasons and the condition helpers (SPEC §0.2, §1.3, §4.1, §5.3, §5.8)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from certsmith.api.conditions import (
    CertificateReason,
    ConditionStatus,
    ConditionType,
    IssuerReason,
    PolicyReason,
    RequestReason,
)
from certsmith.api.meta import Condition, get_condition, is_true, remove_condition, set_condition

SPEC = Path(__file__).resolve().parents[3].parent / "shared" / "SPEC.md"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def test_request_reasons_are_cert_managers():
    assert {r.value for r in RequestReason} == {"Pending", "Failed", "Issued", "Denied"}


def test_condition_types_are_cert_managers():
    assert {t.value for t in ConditionType} == {
        "Ready",
        "Issuing",
        "InvalidRequest",
        "Approved",
        "Denied",
    }


@pytest.mark.skipif(not SPEC.exists(), reason="shared/SPEC.md is not beside the checkout")
@pytest.mark.parametrize(
    "reason",
    [*IssuerReason, *PolicyReason, *CertificateReason],
    ids=lambda r: r.value,
)
def test_every_reason_is_spelled_as_in_the_spec(reason):
    # Each wire value must appear verbatim, in backticks, somewhere in the behavioural spec.
    assert re.search(rf"`{re.escape(reason.value)}`", SPEC.read_text()), reason.value


def test_setting_a_new_condition_appends_it_with_now_as_transition_time():
    conds = set_condition([], ConditionType.READY, ConditionStatus.FALSE, "Pending", "m", now=T0)
    assert conds == [
        Condition(
            type="Ready", status="False", reason="Pending", message="m", last_transition_time=T0
        )
    ]


def test_same_status_keeps_the_transition_time_and_updates_reason_and_message():
    conds = set_condition([], ConditionType.READY, ConditionStatus.FALSE, "Pending", "a", now=T0)
    conds = set_condition(conds, ConditionType.READY, ConditionStatus.FALSE, "Failed", "b", now=T1)
    ready = get_condition(conds, ConditionType.READY)
    assert ready is not None
    assert (ready.reason, ready.message, ready.last_transition_time) == ("Failed", "b", T0)


def test_changed_status_moves_the_transition_time():
    conds = set_condition([], ConditionType.READY, ConditionStatus.FALSE, "Pending", "a", now=T0)
    conds = set_condition(conds, ConditionType.READY, ConditionStatus.TRUE, "Issued", "b", now=T1)
    assert len(conds) == 1
    assert conds[0].last_transition_time == T1
    assert is_true(conds, ConditionType.READY)


def test_setting_one_type_leaves_the_others_in_place():
    conds = set_condition([], ConditionType.APPROVED, ConditionStatus.TRUE, "x", "y", now=T0)
    conds = set_condition(conds, ConditionType.READY, ConditionStatus.FALSE, "Pending", "", now=T1)
    assert [c.type for c in conds] == ["Approved", "Ready"]
    assert [c.type for c in remove_condition(conds, ConditionType.APPROVED)] == ["Ready"]


def test_observed_generation_is_recorded_when_given():
    conds = set_condition(
        [], ConditionType.READY, ConditionStatus.TRUE, "Ready", "", now=T0, observed_generation=3
    )
    assert conds[0].observed_generation == 3


def test_condition_times_print_as_kubernetes_rfc3339():
    conds = set_condition([], ConditionType.READY, ConditionStatus.TRUE, "Issued", "", now=T0)
    assert conds[0].to_dict()["lastTransitionTime"] == "2026-01-01T00:00:00Z"
