"""Labelled frames for the image tower (``sim frames``): each patch names what covers it,
seen from poses clear of the room's boxes, the same set from any number of workers."""

import math
import subprocess
import sys

import numpy as np
import pytest

from mobile_vla.training.vision_pretrain import load_frames
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.frames import (
    COLOUR_NAMES,
    MIN_SHARE,
    PATCH_CLASSES,
    frame_jobs,
    frame_poses,
    geom_labels,
    patch_labels,
    room_frames,
)
from mobile_vla_sim.world import ROBOT_RADIUS, SimWorld, sample_layout


def test_a_patch_is_labelled_with_what_covers_most_of_it():
    kinds = np.array([0, 1, 2])  # geom 0 floor, 1 an obstacle, 2 a cup
    colours = np.array([-1, -1, 4])
    seg = np.zeros((140, 280), np.int64)  # patches of 20 x 40 pixels
    seg[0:20, 0:40] = 2  # fills patch (0, 0)
    seg[30:40, 50:70] = 1  # a quarter of patch (1, 1) ...
    seg[20:30, 40:80] = 2  # ... and half of it the cup
    seg[139, 279] = 1  # one pixel of patch (6, 6): below MIN_SHARE
    seg[60:80, 120:160] = -1  # sky in patch (3, 3)
    k, c = patch_labels(seg, kinds, colours, 7)
    assert k[0, 0] == 2 and c[0, 0] == 4
    assert k[1, 1] == 2  # the cup covers more of patch (1, 1) than the box
    assert k[6, 6] == 0 and 1 / 800 < MIN_SHARE and k[3, 3] == 0 and c[3, 3] == -1
    assert (k > 0).sum() == 2


def test_the_target_in_front_of_the_camera_is_labelled_with_its_kind_and_colour():
    layout = sample_layout('goal_1box_vert_left', 3)
    goal = layout.objects[layout.target]
    world = SimWorld(layout, 640, 360)
    try:
        kinds, colours = geom_labels(world)
        world.place(goal.center[0] - 1.0, goal.center[1], 0.0)
        k, c = patch_labels(world.render_segmentation(4), kinds, colours, 7)
    finally:
        world.close()
    target = PATCH_CLASSES.index(goal.kind)
    rows, cols = np.nonzero(k == target)
    assert len(rows) and set(cols) <= {2, 3, 4}  # ahead, in the middle of the frame
    assert set(rows) <= {3, 4, 5, 6}  # on the floor a metre ahead: below the horizon
    assert {COLOUR_NAMES[v] for v in c[k == target]} == {goal.colour}


def test_poses_stand_clear_of_boxes_and_objects_near_the_start_heading():
    layout = sample_layout('2box_hori_right', 5)
    poses = frame_poses(layout, 200, np.random.default_rng(0))
    assert len(poses) == 200
    for x, y, _ in poses:  # the chassis's circle clear of every box's rectangle
        for box in layout.boxes:
            dx = max(abs(x - box.center[0]) - box.size[0] / 2, 0.0)
            dy = max(abs(y - box.center[1]) - box.size[1] / 2, 0.0)
            assert math.hypot(dx, dy) >= ROBOT_RADIUS
        assert math.hypot(x - layout.cup[0], y - layout.cup[1]) >= ROBOT_RADIUS
    assert max(abs(yaw - layout.robot[2]) for _, _, yaw in poses) <= math.radians(36.01)
    near = [p for p in poses if math.hypot(p[0] - layout.cup[0], p[1] - layout.cup[1]) < 1.0]
    assert len(near) > 40  # the stop is seen, not only the way there


def test_frames_depend_only_on_the_room_and_workers_write_the_same_set(tmp_path):
    sim = SimConfig()
    jobs = frame_jobs(6, 11, ('1box_vert_left', 'goal_2box_hori_right'), 3, 224, 7, sim)
    assert [(j.scenario, j.seed, j.count) for j in jobs] == [
        ('1box_vert_left', 11, 3), ('goal_2box_hori_right', 11, 3)]
    images, kinds, colours = room_frames(jobs[1])
    assert images.shape == (3, 224, 224, 3) and kinds.shape == colours.shape == (3, 7, 7)
    out = subprocess.run([sys.executable, '-m', 'mobile_vla.cli', 'sim', 'frames', '--frames',
                          '6', '--per-room', '3', '--seed', '11', '--scenario', '1box_vert_left',
                          '--scenario', 'goal_2box_hori_right', '--out', str(tmp_path),
                          '--workers', '2'], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    all_images, all_kinds, all_colours, rooms, meta = load_frames(tmp_path)
    assert list(rooms) == [0, 0, 0, 1, 1, 1] and meta['grid'] == 7 and meta['rooms'] == 2
    assert np.array_equal(all_images[3:], images) and np.array_equal(all_kinds[3:], kinds)
    assert np.array_equal(all_colours[3:], colours)
    assert meta['classes'] == list(PATCH_CLASSES)


@pytest.mark.parametrize('args, words', [
    (['--frames', '0'], '--frames must be in'),
    (['--frames', '4', '--per-room', '0'], '--per-room must be at least 1'),
    (['--frames', '4', '--workers', '0'], '--workers must be at least 1'),
    (['--frames', '4', '--seed', '-1'], 'must be 0 or more and below 100000'),
    (['--frames', '160', '--per-room', '1', '--seed', '99995'], 'draws layout seeds 99995 to'),
    (['--frames', '4', '--config', 'tiny'], 'whose patch tokens the head reads'),
])
def test_bad_frame_requests_are_refused_without_a_traceback(tmp_path, args, words):
    out = subprocess.run([sys.executable, '-m', 'mobile_vla.cli', 'sim', 'frames', '--out',
                          str(tmp_path), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and 'Traceback' not in out.stderr
    assert words in out.stderr and not (tmp_path / 'frames.npz').exists()
