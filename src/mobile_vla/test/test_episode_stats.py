"""``mobile-vla data stats``: episodes, frames and actions counted per scenario, and the
plot."""

from mobile_vla.episode import episode_paths
from mobile_vla.episode_stats import collect_stats


def test_stats_count_scenarios_frames_and_actions(folder, tmp_path):
    stats = collect_stats(episode_paths(folder))
    assert stats.episodes == 3 and stats.frames == 48
    assert stats.per_scenario['2box_hori_right'] == 1 and stats.complete == 2
    text = stats.text()
    assert '3 episodes, 48 frames' in text and '1box_vert_left' in text
    png = stats.plot(tmp_path / 'stats.png')
    assert png.stat().st_size > 10_000
