"""Closed-loop sessions (``SimSession``): expert data through the recorder, and hybrid
control handing over to manual input and back."""

from mobile_vla import topics
from mobile_vla.cli import main as cli_main
from mobile_vla.episode import read_episode, validate_episode
from mobile_vla.language import scenario_phrasings
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.session import SimSession
from mobile_vla_sim.world import sample_layout

SMALL = SimConfig(width=160, height=90, time_limit_s=3.0)


def test_collect_writes_episodes_that_validate(tmp_path, capsys):
    out = tmp_path / 'episodes'
    code = cli_main(['sim', 'collect', '--episodes', '3', '--seed', '40', '--out', str(out),
                     '--set', 'width=96', '--set', 'height=54'])
    assert code == 0
    files = sorted(out.glob('*.h5'))
    assert len(files) == 3
    names = {read_episode(f).scenario for f in files}
    assert names == {'1box_vert_left', '1box_vert_right', '1box_hori_left'}
    for f in files:
        assert validate_episode(f) == []
        ep = read_episode(f)
        assert ep.num_frames == 18 and ep.images.shape[1:] == (54, 96, 3)
        assert ep.extra_attrs.get('recorder_mode', 'fixed_rate') == 'fixed_rate'
        # a training phrasing of the scenario's side
        assert ep.instruction in scenario_phrasings(ep.scenario)
    assert cli_main(['data', 'validate', str(out)]) == 0
    assert '3 episodes' in capsys.readouterr().out


def test_hybrid_manual_input_takes_over_and_hands_back(runner):
    layout = sample_layout('1box_hori_left', 2)
    with SimSession(layout, 'go around the box on the left to the cup', runner=runner,
                    mode='hybrid', sim=SMALL, manual_window=(0.5, 0.5), record=False) as s:
        log = []
        s.executor.subscribe(topics.CMD_VEL.path, lambda msg, t: log.append(
            (t - s.start_ns, s.arbiter.state(0.0)['active_source'])))
        result = s.run()
    assert {source for t, source in log if 0.55e9 < t < 0.95e9} == {'teleop'}
    assert {source for t, source in log if t < 0.45e9} == {'vla'}
    after = {source for t, source in log if t > 2.1e9}  # hybrid_hold_s after manual input
    assert after == {'vla'}
    assert result.expert_keys  # the expert decided during the window only
    assert len(result.expert_keys) == 2
