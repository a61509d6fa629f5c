"""The MuJoCo world: layouts from the documented ranges, physics, collisions, cameras."""

import math

import numpy as np
import pytest

from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla_sim.world import (
    CAMERA_HFOV_DEG,
    FACTORS,
    GOAL_FACTORS,
    ROBOT_RADIUS,
    TEXTURES,
    RangeError,
    SimWorld,
    check_ranges,
    sample_layout,
    vertical_fov_deg,
)

#: A room with the robot square to a centred obstacle (the physics tests drive into it).
SQUARE = {'robot_y': (0.0, 0.0), 'robot_yaw_deg': (0.0, 0.0), 'obstacle_y': (0.0, 0.0)}


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
        assert set(lay.factors) == set(FACTORS) - GOAL_FACTORS  # every factor is recorded
        for factor, value in lay.factors.items():
            f = FACTORS[factor]
            drawn = abs(value) if f.symmetric else value
            assert f.low <= drawn <= f.high, (factor, value)
        assert 1.8 <= lay.cup[0] - lay.robot[0] <= 4.5
        x0, x1, y0, y1 = lay.obstacle_bounds()
        # lengthwise boxes are longer along x, crosswise ones wider along y
        assert (x1 - x0 > y1 - y0) == (sc.orientation == 'vert')
        # the obstacle stands between the robot and the cup, with room on both sides
        assert lay.robot[0] + ROBOT_RADIUS + 0.69 < x0 and x1 < lay.cup[0] - 0.44
        for item in lay.clutter:  # clutter is off the path
            assert abs(item.center[1]) >= FACTORS['clutter_y'].low


def test_one_factor_from_another_range_moves_only_that_factor():
    base = sample_layout('2box_vert_right', 5)
    dim = sample_layout('2box_vert_right', 5, {'light_level': (0.2, 0.3)}, shift='dim')
    assert 0.2 <= dim.factors['light_level'] <= 0.3 and dim.shift == 'dim'
    assert {k: v for k, v in dim.factors.items() if k != 'light_level'} == \
        {k: v for k, v in base.factors.items() if k != 'light_level'}
    assert dim.boxes == base.boxes and dim.cup == base.cup and dim.robot == base.robot


@pytest.mark.parametrize('ranges, words', [
    ({'light_level': (1.2, 0.8)}, 'light_level: bounds are reversed'),
    ({'cup_distance': (2.0, float('nan'))}, 'cup_distance: bounds must be finite'),
    ({'cup_distance': (5.0, 9.0)}, 'cup_distance: (5.0, 9.0) is outside what the world can'),
    ({'sensor_noise': (-1.0, 2.0)}, 'sensor_noise'),
    ({'light': (0.1, 0.2)}, "unknown room factor 'light'"),
    ({'box_hue': 'red'}, 'box_hue: a range is two numbers'),
])
def test_a_range_the_world_cannot_build_is_refused_naming_its_factor(ranges, words):
    with pytest.raises(RangeError, match=words.replace('(', r'\(').replace(')', r'\)')):
        sample_layout('1box_vert_left', 0, ranges)
    with pytest.raises(RangeError):
        check_ranges(ranges)


def test_textures_colours_and_light_reach_the_camera():
    """A white box is white on the image, a dim room is dark, every floor texture renders."""
    def mean_of(ranges, size=(64, 36)):
        clean = {'sensor_noise': (0.0, 0.0), 'sensor_blur': (0.0, 0.0)}
        world = SimWorld(sample_layout('1box_hori_left', 4, {**SQUARE, **clean, **ranges}),
                         *size)
        try:
            return world.render().astype(float)
        finally:
            world.close()
    white = mean_of({'box_saturation': (0.0, 0.0), 'box_value': (1.0, 1.0),
                     'light_level': (1.3, 1.3)})
    black = mean_of({'box_saturation': (0.0, 0.0), 'box_value': (0.05, 0.05),
                     'light_level': (1.3, 1.3)})
    centre = (slice(14, 24), slice(26, 38))
    assert white[centre].mean() > black[centre].mean() + 60
    assert mean_of({'light_level': (0.2, 0.2)}).mean() < mean_of(
        {'light_level': (1.5, 1.5)}).mean() - 25
    floors = [mean_of({'floor_texture': ((i + 0.5) / len(TEXTURES),) * 2,
                       'floor_contrast': (0.2, 0.2)}, (160, 90))[70:, 40:120]
              for i in range(len(TEXTURES))]  # the floor just ahead of the robot
    assert TEXTURES[0] == 'plain'  # each pattern shows on the image, against the plain floor
    changes = [float(np.abs(f - floors[0]).mean()) for f in floors[1:]]
    assert min(changes) > 8, changes


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
    lay = sample_layout('1box_hori_left', 0, SQUARE)
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
