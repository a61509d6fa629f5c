"""The scripted expert reaches the cup on the instructed side in every scenario."""

from dataclasses import replace

import numpy as np
import pytest

from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.expert import (
    ExpertConfig,
    ScriptedExpert,
    passed_side,
    route,
    shortest_path_length,
)
from mobile_vla_sim.session import SimSession
from mobile_vla_sim.world import (
    CAMERA_HFOV_DEG,
    CORNER_MARGIN,
    LANE_CLEARANCE,
    SimWorld,
    sample_layout,
)

SEEDS = range(500, 508)  # a fixed set, away from the data and evaluation seeds
SMALL = SimConfig(width=64, height=36)  # the expert does not look at the camera


def drive(name, seed, **expert):
    layout = sample_layout(name, seed)
    with SimSession(layout, parse(name).instruction(), driver='expert', sim=SMALL,
                    expert=ExpertConfig(**expert)) as session:
        return session.run()


@pytest.mark.parametrize('name', SCENARIOS)
def test_expert_reaches_the_cup_on_the_instructed_side(name):
    results = [drive(name, seed) for seed in SEEDS]
    good = [r.success and not r.collision and r.on_instructed_side for r in results]
    assert np.mean(good) >= 0.98, [(r.seed, r.outcome, r.passed_side) for r in results]
    for r in results:
        # key-map actions only: magnitude 1.15 per axis, never a turn
        # (the recorder labels each frame with the settled command that followed it)
        magnitudes = np.abs(r.episode.actions[:, :2])
        assert np.all(np.isclose(magnitudes, 0.0) | np.isclose(magnitudes, 1.15)), \
            r.episode.actions
        assert np.all(r.episode.actions[:, 2] == 0)
        assert r.episode.num_frames == 18 and r.episode.complete


def test_continuous_expert_also_reaches_the_cup():
    for name in ('1box_vert_left', '2box_hori_right'):
        r = drive(name, 501, actions='continuous')
        assert r.success and r.on_instructed_side
        # as fast as the keys: the larger axis at the limit, or still
        fastest = np.abs(r.episode.actions[:, :2]).max(axis=1)
        assert np.all((fastest < 1e-6) | (np.abs(fastest - 1.15) < 0.02))
        assert np.all(r.episode.actions[:, 2] == 0)


def _bearing_deg(layout, pose):
    """Degrees between the camera's heading (the base's yaw) and the cup, 0-180."""
    dx, dy = np.array(layout.cup) - pose[:2]
    error = np.arctan2(dy, dx) - pose[2]
    return abs(np.degrees(np.arctan2(np.sin(error), np.cos(error))))


@pytest.mark.parametrize('name', SCENARIOS)
def test_a_cup_gaze_reaches_the_cup_with_the_cup_in_view(name):
    """gaze='cup' drives the same route on the instructed side, turning so that the cup
    stays inside the camera's view from the second decision until the stop."""
    config = ExpertConfig(actions='continuous', gaze='cup', decision_period=0.25)
    half_view = CAMERA_HFOV_DEG / 2
    for seed in SEEDS[:3]:
        r = drive(name, seed, actions='continuous', gaze='cup')
        assert r.success and not r.collision and r.on_instructed_side, (seed, r.outcome)
        assert np.any(r.episode.actions[:, 2] != 0)
        layout = sample_layout(name, seed)
        world = SimWorld(layout, 16, 16)
        expert = ScriptedExpert(layout, parse(name).side, config)
        off = []
        try:
            for step in range(18):
                pose = world.pose()
                action = expert.act(pose)
                if step >= 2 and world.cup_distance() > config.gaze_radius:
                    off.append(_bearing_deg(layout, pose))
                world.set_command(action)
                world.step(config.decision_period)
        finally:
            world.close()
        assert max(off) < half_view, (seed, np.round(off, 1))


def _last_bearing_in_view_range(name, seed, config, near=0.5):
    """Degrees between the camera's heading (the start heading: no turn) and the cup at
    the last decision before the stop made at least ``near`` metres from the cup (where
    the cup is still above the bottom of the frame); None if none was."""
    layout = sample_layout(name, seed)
    world = SimWorld(layout, 16, 16)
    expert = ScriptedExpert(layout, parse(name).side, config)
    last = None
    try:
        for _ in range(24):
            pose = world.pose()
            action = expert.act(pose)
            if not np.any(action):
                break
            if world.cup_distance() >= near:
                last = _bearing_deg(layout, pose)
            world.set_command(action)
            world.step(config.decision_period)
    finally:
        world.close()
    return last


def test_an_approach_lines_up_and_drives_at_the_cup_with_it_in_view():
    """approach=0.8: keys still (the original key map, no turn), but the last leg runs on
    the cup's line, so the camera at the start heading has the cup in view at the last
    decision before the stop made 0.5 m or more from it: in 19 of these 32 rooms, against
    4 on the diagonal back. (A cup just past the obstacle leaves no room to line up.)"""
    config = ExpertConfig(approach=0.8, decision_period=0.25)
    half_view = CAMERA_HFOV_DEG / 2
    lined_up, diagonal = [], []
    for name in SCENARIOS:
        for seed in SEEDS[:4]:
            r = drive(name, seed, approach=0.8)
            assert r.success and not r.collision and r.on_instructed_side, (name, seed)
            magnitudes = np.abs(r.episode.actions[:, :2])
            assert np.all(np.isclose(magnitudes, 0.0) | np.isclose(magnitudes, 1.15))
            assert np.all(r.episode.actions[:, 2] == 0)
            for share, approach in ((lined_up, 0.8), (diagonal, 0.0)):
                bearing = _last_bearing_in_view_range(name, seed,
                                                      replace(config, approach=approach))
                share.append(bearing is not None and bearing < half_view)
    assert np.mean(lined_up) >= 0.5 and np.mean(lined_up) >= np.mean(diagonal) + 0.3, \
        (np.mean(lined_up), np.mean(diagonal))


def test_an_approach_point_is_on_the_cup_line_past_the_obstacle():
    lay = sample_layout('2box_hori_right', 503)
    plain = route(lay, 'right', LANE_CLEARANCE, CORNER_MARGIN)
    lined = route(lay, 'right', LANE_CLEARANCE, CORNER_MARGIN, approach=0.8)
    assert len(plain) == 4 and len(lined) == 5
    np.testing.assert_allclose(lined[[0, 1, 2, 4]], plain)
    point = lined[3]
    assert point[1] == lay.cup[1] and plain[2][0] <= point[0] <= lay.cup[0]
    assert point[0] == pytest.approx(max(plain[2][0], lay.cup[0] - 0.8))
    with pytest.raises(ValueError, match='approach must be in'):
        ExpertConfig(approach=-0.1)
    with pytest.raises(ValueError, match='approach must be in'):
        ExpertConfig(approach=float('nan'))


def test_gaze_is_checked():
    with pytest.raises(ValueError, match='gaze must be one of'):
        ExpertConfig(gaze='around')
    with pytest.raises(ValueError, match='gaze_gain'):
        ExpertConfig(gaze_gain=0.0)
    with pytest.raises(ValueError, match='needs continuous actions'):
        ExpertConfig(gaze='cup')


def test_passed_side_and_shortest_path():
    lay = sample_layout('1box_vert_left', 0)
    x0, x1, y0, y1 = lay.obstacle_bounds()
    left = np.array([[0, 0], [x0, y1 + 0.4], [x1, y1 + 0.4], lay.cup])
    right = left * np.array([1, -1])
    assert passed_side(left, lay) == 'left' and passed_side(right, lay) == 'right'
    assert passed_side(np.array([[0, 0], [0.5, 0]]), lay) is None
    straight = float(np.hypot(*(np.array(lay.cup) - lay.robot[:2])))
    short = shortest_path_length(lay, 'left', 0.45)
    assert straight - 0.45 < short < straight + 1.0


@pytest.mark.parametrize('distance', [1.8, 4.5])
def test_expert_stops_at_the_cup_at_either_end_of_the_trained_distances(distance):
    """Data shows arrival at near and far cups alike: the expert reaches the cup within
    the episode and stops there (the space bar), whatever the distance."""
    for name, seed in (('2box_vert_left', 501), ('1box_hori_right', 502)):
        layout = sample_layout(name, seed, {'cup_distance': (distance, distance)})
        with SimSession(layout, parse(name).instruction(), driver='expert',
                        sim=SMALL) as session:
            r = session.run()
        assert r.success and not r.collision and r.episode.complete, (name, r.outcome)
        assert layout.cup[0] - layout.robot[0] == pytest.approx(distance)
        assert r.reached_at_s < 18 / SMALL.frame_rate_hz
