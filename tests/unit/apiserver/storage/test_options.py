from __future__ import annotations

from dataclasses import dataclass

import pytest

from certsmith.apiserver.storage import CompactionPolicy, StoreOptions
from certsmith.apiserver.storage.options import compaction_target

POLICY = CompactionPolicy(keep_revisions=100, keep_seconds=300)


@dataclass(frozen=True)
class Case:
    id: str
    current: int
    samples: list[tuple[float, int]]
    now: float
    expect: int


CASES = [
    Case("nothing old enough yet", 1_000, [(0, 500)], 299, 0),
    Case("old sample limits by age", 1_000, [(0, 500), (200, 800)], 300, 500),
    Case("newest old-enough sample wins", 1_000, [(0, 500), (100, 700), (250, 800)], 450, 700),
    Case("count limits when few revisions", 150, [(0, 140)], 1_000, 50),
    Case("fewer revisions than kept", 80, [(0, 80)], 1_000, 0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compaction_keeps_both_the_last_revisions_and_the_last_minutes(case: Case):
    assert compaction_target(POLICY, case.current, case.samples, case.now) == case.expect


@pytest.mark.parametrize(
    "make",
    [
        lambda: CompactionPolicy(keep_revisions=-1),
        lambda: CompactionPolicy(interval_seconds=0),
        lambda: StoreOptions(readers=0),
        lambda: StoreOptions(max_batch=0),
    ],
    ids=["negative keep", "zero interval", "no readers", "empty batches"],
)
def test_impossible_settings_are_refused(make):
    with pytest.raises(ValueError, match="must be"):
        make()
