"""Renewal time from an ARI window (certsmith.pki.ari)."""

from __future__ import annotations

import datetime as dt

from certsmith.api.certmanager import CertificateStatus
from certsmith.pki.ari import ari_renewal_time
from tests.pkitools import make_leaf, make_root


def status(start: dt.datetime, end: dt.datetime) -> CertificateStatus:
    window = {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return CertificateStatus.from_dict({"acme": {"ari": {"suggestedWindow": window}}})


def test_the_time_is_inside_the_window_and_stable() -> None:
    root, root_key = make_root()
    leaf = make_leaf("a.example.com", root, root_key)
    start = leaf.not_valid_before_utc + dt.timedelta(days=30)
    end = start + dt.timedelta(days=2)
    first = ari_renewal_time(status(start, end), leaf)
    assert first is not None
    assert start <= first <= end
    assert ari_renewal_time(status(start, end), leaf) == first


def test_a_window_of_an_earlier_certificate_is_ignored() -> None:
    root, root_key = make_root()
    leaf = make_leaf("a.example.com", root, root_key)
    start = leaf.not_valid_before_utc - dt.timedelta(hours=1)
    assert ari_renewal_time(status(start, start + dt.timedelta(days=1)), leaf) is None


def test_no_ari_status_means_no_ari_time() -> None:
    root, root_key = make_root()
    leaf = make_leaf("a.example.com", root, root_key)
    assert ari_renewal_time(CertificateStatus(), leaf) is None
    assert ari_renewal_time(None, leaf) is None
