"""Jobs for the worker tests, in a module of their own: a spawned worker imports it, and
nothing heavy (no torch, no MuJoCo) comes with it."""

import os
import signal


def square(_state, job):
    return job * job


def die_on_three(_state, job):
    if job == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    if job == 4:
        raise ValueError('a bad job')
    return job


def hang_on_one(_state, job):
    if job == 1:
        signal.pause()  # native code that never returns
    return job
