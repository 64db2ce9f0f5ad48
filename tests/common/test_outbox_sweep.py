"""How often an outbox relay looks, unasked, for events left pending (services/common/outbox.py next_sweep):
soon while there may be some, less and less often while there are none."""

from __future__ import annotations

from services.common.outbox import SWEEP_MAX_SECONDS, next_sweep


def test_quiet_passes_space_the_sweeps_out_up_to_the_longest_wait() -> None:
    waits, wait = [], 0.5
    for _ in range(8):
        wait = next_sweep(0.5, wait, quiet=True)
        waits.append(wait)
    assert waits == [1.0, 2.0, 4.0, 8.0, SWEEP_MAX_SECONDS, SWEEP_MAX_SECONDS, 10.0, 10.0]


def test_a_pass_that_failed_or_left_something_brings_the_next_sweep_back_to_the_interval() -> None:
    assert next_sweep(0.5, SWEEP_MAX_SECONDS, quiet=False) == 0.5


def test_an_interval_longer_than_the_longest_wait_is_kept() -> None:
    assert next_sweep(30.0, 30.0, quiet=True) == 30.0
    assert next_sweep(30.0, 30.0, quiet=False) == 30.0
