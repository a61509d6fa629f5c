"""StepScheduler on its own: one run of steps at a time, frames that came due during a
run taken before it ends, instructions acting at once, and the watchdog's quiet time."""

from mobile_vla.units import MS
from mobile_vla_inference.scheduler import Start, StepScheduler


def test_a_due_frame_starts_a_run_and_one_during_it_is_taken_before_it_ends():
    s = StepScheduler()
    assert s.frame_came_due()  # start a run
    assert not s.frame_came_due()  # the run takes this one
    assert s.step_again(lambda: True, stopping=False)
    assert not s.step_again(lambda: True, stopping=False)  # nothing came meanwhile: done
    assert s.frame_came_due()  # the next frame starts a new run


def test_a_waiting_frame_that_is_no_longer_due_or_a_stop_ends_the_run():
    s = StepScheduler()
    s.frame_came_due()
    s.frame_came_due()
    assert not s.step_again(lambda: False, stopping=False)
    s.frame_came_due()
    s.frame_came_due()
    assert not s.step_again(lambda: True, stopping=True)
    assert s.frame_came_due()


def test_an_instruction_runs_at_once_on_a_due_frame_or_steps_without_the_policy():
    s = StepScheduler()
    assert s.instruction_came(lambda: False) is Start.WITHOUT_POLICY
    assert s.instruction_came(lambda: True) is Start.RUN
    assert s.instruction_came(lambda: True) is Start.QUEUED  # that run takes it
    assert not s.frame_came_due()
    s.step_again(lambda: False, stopping=False)
    assert s.instruction_came(lambda: True) is Start.RUN


def test_the_watchdog_keeps_quiet_for_half_its_period_after_a_publish():
    s = StepScheduler()
    assert s.watchdog_due(0, rate_hz=4.0)
    s.published(1000 * MS)
    assert not s.watchdog_due(1100 * MS, rate_hz=4.0)
    assert s.watchdog_due(1125 * MS, rate_hz=4.0)  # 125 ms: half of 250 ms
    assert s.watchdog_due(900 * MS, rate_hz=4.0)  # a clock that went back
