"""The ``mobile-vla sim`` command line: its errors, one clear line each, and scenario groups."""

from mobile_vla.cli import main as cli_main
from mobile_vla.episode import read_episode
from mobile_vla.scenarios import parse
from mobile_vla_sim.evaluate import instruction_for
from mobile_vla_sim.world import sample_layout


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    code = cli_main(['sim', 'run', '--checkpoint', str(tmp_path / 'none'),
                     '--scenario', '1box_vert_left'])
    assert code == 2
    assert 'no checkpoint there' in capsys.readouterr().err
    assert cli_main(['sim', 'collect', '--episodes', '1', '--set', 'bogus=1']) == 2
    assert 'bogus' in capsys.readouterr().err
    assert cli_main(['sim', 'run', '--scenario', '3box_left']) == 2
    assert 'unknown scenario' in capsys.readouterr().err


def test_scenario_groups_on_the_command_line(tmp_path, capsys):
    out = tmp_path / 'episodes'
    assert cli_main(['sim', 'collect', '--episodes', '2', '--scenario', 'goal', '--seed', '7',
                     '--out', str(out), '--set', 'width=64', '--set', 'height=48']) == 0
    for f in sorted(out.glob('*.h5')):
        ep = read_episode(f)
        assert parse(ep.scenario).goal
        lay = sample_layout(ep.scenario, 7)
        assert ep.instruction == instruction_for(ep.scenario, 7, lay)
    assert cli_main(['sim', 'eval', '--scenario', 'goal_4box_vert_left']) == 2
    assert 'goal room' in capsys.readouterr().err
