"""The top-down picture of a run: the room, the path, the goals' circles and a label."""

import cv2
import numpy as np
import pytest

from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.render import write_top_down
from mobile_vla_sim.session import SimSession
from mobile_vla_sim.world import sample_layout


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    sim = SimConfig(width=64, height=48, time_limit_s=3.0, top_size=160)
    layout = sample_layout('1box_vert_left', 100000)
    with SimSession(layout, 'go around the box on the left to the cup', driver='expert',
                    sim=sim) as session:
        result = session.run()
        path = session.top_down(tmp_path_factory.mktemp('top') / 'top_down.png')
        blank = write_top_down(tmp_path_factory.mktemp('blank') / 'top.png', session.world,
                               result, sim, goals=[])
        with pytest.MonkeyPatch.context() as patch:  # a full disk: the encoder says no
            patch.setattr(cv2, 'imwrite', lambda *_args: False)
            try:
                write_top_down(tmp_path_factory.mktemp('full') / 'top.png', session.world,
                               result, sim, goals=[])
            except OSError as exc:
                failure = exc
            else:
                failure = None
        yield result, path, blank, failure


def test_the_picture_is_written_at_its_size_with_the_path_drawn(run):
    result, path, blank, _ = run
    image = cv2.imread(str(path))
    assert image.shape == (160, 160, 3) and len(result.path) > 1
    green = (image[:, :, 1] > 150) & (image[:, :, 0] < 60) & (image[:, :, 2] < 60)
    assert green.any()  # the start
    assert not np.array_equal(image, cv2.imread(str(blank)))  # the goal's circle


def test_a_picture_that_cannot_be_written_is_an_error_naming_it(run):
    assert isinstance(run[3], OSError) and 'could not write' in str(run[3])
