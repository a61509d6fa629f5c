"""The grab loop with the real clock: pacing, stamps, counters, faults and recovery."""

import os
import shutil
import threading
import time

import numpy as np

from mobile_vla.msgs import image_to_numpy
from mobile_vla_camera import pattern
from mobile_vla_camera.grabber import run_grab_loop
from mobile_vla_camera.media import write_pattern_video
from mobile_vla_camera.publisher import CameraConfig, CameraPublisher


class Collector:
    """Receives published images; stops the loop after ``limit`` frames or ``seconds``."""

    def __init__(self, limit=None, seconds=10.0):
        self.outs = []
        self.limit = limit
        self.deadline = time.monotonic() + seconds
        self.logs = []

    def emit(self, out):
        self.outs.append(out)

    def stop(self):
        return (self.limit is not None and len(self.outs) >= self.limit) or \
            time.monotonic() > self.deadline

    def images(self):
        class Msg:
            pass

        result = []
        for out in self.outs:
            msg = Msg()
            msg.__dict__.update(out.fields)
            result.append(image_to_numpy(msg))
        return result


def run(config, collector, publisher=None):
    publisher = publisher or CameraPublisher(config)
    run_grab_loop(publisher, collector.emit, time.monotonic_ns, time.sleep,
                  should_stop=collector.stop, log=collector.logs.append)
    return publisher


def test_synthetic_source_paces_at_fps_with_monotonic_stamps_and_no_gaps():
    c = Collector(limit=45)
    config = CameraConfig(source='synthetic', width=640, height=360, fps=30)
    pub = run(config, c)
    counters = [pattern.read_counter(img, 'rgb') for img in c.images()]
    assert counters == list(range(45))
    stamps = [o.stamp_ns for o in c.outs]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    elapsed = (stamps[-1] - stamps[0]) / 1e9
    # Paced at 30 fps, not as fast as frames can be drawn (about 2 ms each); a busy
    # machine may only make it slower.
    assert 0.95 * 44 / 30 <= elapsed < 3 * 44 / 30
    assert pub.frames_dropped == 0 and pub.frames_published == 45


def test_image_folder_frames_arrive_bit_exact_as_rgb(image_folder):
    folder, frames = image_folder
    c = Collector(limit=5)
    run(CameraConfig(source='images', path=str(folder), realtime=False), c)
    for img, expected in zip(c.images(), frames, strict=True):
        np.testing.assert_array_equal(img, expected[:, :, ::-1])


def test_video_file_frames_arrive_in_counter_order(pattern_video):
    c = Collector(limit=90)
    pub = run(CameraConfig(source='file', path=str(pattern_video), fps=0, realtime=False), c)
    counters = [pattern.read_counter(img, 'rgb') for img in c.images()]
    assert counters == list(range(60)) + list(range(30))  # looped
    assert pub.frames_dropped == 0


def test_non_looping_media_ends_the_loop(pattern_video):
    c = Collector(seconds=30)
    pub = run(CameraConfig(source='file', path=str(pattern_video), fps=0, loop=False,
                           realtime=False), c)
    assert len(c.outs) == 60 and pub.state == 'finished'
    assert pub.diagnostics(time.monotonic_ns())[0] == 'WARN'


def test_missing_file_is_retried_with_backoff_until_it_appears(tmp_path):
    path = tmp_path / 'late.mp4'
    config = CameraConfig(source='file', path=str(path), fps=0, realtime=False,
                          retry_initial_s=0.05, retry_max_s=0.2)
    pub = CameraPublisher(config)
    c = Collector(limit=10, seconds=20)
    thread = threading.Thread(target=run, args=(config, c, pub))
    thread.start()
    time.sleep(0.6)
    assert pub.state == 'retrying' and pub.failures >= 3
    assert any('late.mp4 not found; check the path' in line for line in c.logs)
    level, message, _ = pub.diagnostics(time.monotonic_ns())
    assert level == 'ERROR' and 'not found' in message
    partial = tmp_path / 'partial.mp4'
    write_pattern_video(partial, 30)
    os.replace(partial, path)  # appears complete, as a copy finishing would
    thread.join(timeout=20)
    assert len(c.outs) == 10 and pub.state == 'streaming'


def test_a_source_that_fails_mid_stream_recovers_when_it_comes_back(image_folder, tmp_path):
    folder, frames = image_folder
    config = CameraConfig(source='images', path=str(folder), fps=30, realtime=True,
                          retry_initial_s=0.05, retry_max_s=0.1)
    pub = CameraPublisher(config)
    c = Collector(seconds=20)
    stop_after = {'n': None}
    c.stop = lambda: stop_after['n'] is not None and len(c.outs) >= stop_after['n']
    thread = threading.Thread(target=run, args=(config, c, pub))
    thread.start()
    assert _wait(lambda: len(c.outs) >= 3)
    hidden = tmp_path / 'unplugged'
    shutil.move(str(folder), str(hidden))  # the "camera" goes away mid-stream
    assert _wait(lambda: pub.state == 'retrying')
    failures = pub.failures
    assert _wait(lambda: pub.failures > failures)  # keeps retrying while it is gone
    count = len(c.outs)
    shutil.move(str(hidden), str(folder))
    stop_after['n'] = count + 5
    thread.join(timeout=20)
    assert len(c.outs) >= count + 5 and pub.state == 'streaming'
    recovered = c.images()[count]
    assert any(np.array_equal(recovered, f[:, :, ::-1]) for f in frames)


def _wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False
