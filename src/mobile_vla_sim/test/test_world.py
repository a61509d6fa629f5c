"""The MuJoCo world: layouts from the documented ranges, physics, collisions, cameras."""

import math

import numpy as np
import pytest

from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla_sim.world import (
    CAMERA_HFOV_DEG,
    RANGES,
    ROBOT_RADIUS,
    SimWorld,
    sample_layout,
    vertical_fov_deg,
)


def test_layouts_are_reproducible_and_the_side_never_changes_the_room():
    for name in SCENARIOS:
        a, b = sample_layout(name, 11), sample_layout(name, 11)
        assert a == b
        mirror = sample_layout(parse(name).mirrored.name, 11)
        assert mirror.boxes == a.boxes and mirror.cup == a.cup and mirror.robot == a.robot
    assert sample_layout('1box_vert_left', 1) != sample_layout('1box_vert_left', 2)


@pytest.mark.parametrize('name', SCENARIOS)
def test_layouts_stay_inside_the_documented_ranges(name):
    sc = parse(name)
    for seed in range(40):
        lay = sample_layout(name, seed)
        assert len(lay.boxes) == sc.boxes
        assert RANGES['cup_x'][0] <= lay.cup[0] <= RANGES['cup_x'][1]
        assert RANGES['robot_y'][0] <= lay.robot[1] <= RANGES['robot_y'][1]
        low, high = RANGES['camera_noise_std']
        assert low <= lay.camera_noise_std <= high
        x0, x1, y0, y1 = lay.obstacle_bounds()
        # lengthwise boxes are longer along x, crosswise ones wider along y
        assert (x1 - x0 > y1 - y0) == (sc.orientation == 'vert')
        # the obstacle stands between the robot and the cup, blocking the straight line
        assert lay.robot[0] + ROBOT_RADIUS < x0 and x1 < lay.cup[0]
        xm = (x0 + x1) / 2
        t = (xm - lay.robot[0]) / (lay.cup[0] - lay.robot[0])
        y_straight = lay.robot[1] + t * (lay.cup[1] - lay.robot[1])
        assert y0 - ROBOT_RADIUS < y_straight < y1 + ROBOT_RADIUS


def test_camera_has_the_csi_horizontal_field_at_any_aspect():
    assert vertical_fov_deg(1280, 720) == pytest.approx(37.5, abs=0.1)
    half = math.radians(vertical_fov_deg(640, 480)) / 2
    assert math.degrees(2 * math.atan(math.tan(half) * 640 / 480)) == pytest.approx(
        CAMERA_HFOV_DEG)


def test_render_size_is_a_parameter_and_noise_comes_from_the_layout_seed():
    lay = sample_layout('1box_hori_left', 3)
    a = SimWorld(lay, 96, 54)
    b = SimWorld(lay, 96, 54)
    try:
        first, again = a.render(), b.render()
        assert first.shape == (54, 96, 3) and first.dtype == np.uint8
        np.testing.assert_array_equal(first, again)
        assert a.render_top().shape == (480, 480, 3)
    finally:
        a.close()
        b.close()


def test_velocity_commands_are_body_frame_and_tracked():
    lay = sample_layout('1box_vert_left', 0)
    world = SimWorld(lay, 32, 32)
    try:
        world.set_command((0.0, 1.15, 0.0))  # strafe left
        world.step(0.5)
        yaw = lay.robot[2]
        moved = world.pose()[:2] - np.array(lay.robot[:2])
        left = np.array([-math.sin(yaw), math.cos(yaw)])
        assert moved @ left == pytest.approx(0.55, abs=0.05)
        np.testing.assert_allclose(world.velocity(), [0.0, 1.15, 0.0], atol=0.02)
        assert world.time == pytest.approx(0.5)
    finally:
        world.close()


def test_driving_into_a_box_is_a_real_contact_that_stops_the_robot():
    lay = sample_layout('1box_hori_left', 0)
    world = SimWorld(lay, 32, 32)
    try:
        world.set_command((1.15, 0.0, 0.0))
        world.step(3.0)
        assert world.collided and world.in_contact()
        x0 = lay.obstacle_bounds()[0]
        assert world.pose()[0] == pytest.approx(x0 - ROBOT_RADIUS, abs=0.03)
        assert abs(world.velocity()[0]) < 0.05
    finally:
        world.close()
