"""``mobile-vla doc params``: the README parameter tables come from the config
dataclasses, a stale or missing table is found, and ``--write`` mends it."""

import shutil
from pathlib import Path

import pytest

from mobile_vla.cli import main as cli_main
from mobile_vla.resources import workspace_dir
from mobile_vla_sim.params_doc import NODES, TABLES, readme, stale_tables, table, write_tables


def test_every_node_parameter_table_is_the_generated_one(capsys):
    assert stale_tables() == []
    assert cli_main(['doc', 'params', '--node', 'control_arbiter']) == 0
    out = capsys.readouterr().out
    assert '| `rate_hz` | 20.0 |' in out and '`sources.<name>.role`' in out
    assert set(NODES) >= {'camera_publisher', 'vla_inference', 'control_arbiter',
                          'episode_recorder', 'wasd_teleop', 'web_console', 'sim_robot'}
    assert cli_main(['doc', 'params', '--node', 'nope']) == 2
    assert 'unknown node' in capsys.readouterr().err


@pytest.fixture
def readmes(tmp_path) -> Path:
    """A copy of every package README that holds a table, laid out as in the workspace."""
    for node in TABLES:
        copy = readme(node, tmp_path)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(readme(node, workspace_dir()), copy)
    return tmp_path


def test_a_stale_table_is_named_and_write_mends_it_and_only_it(readmes):
    assert stale_tables(readmes) == [] and write_tables(readmes) == []
    path = readme('control_arbiter', readmes)
    text = path.read_text()
    path.write_text(text.replace(table('control_arbiter'), '| `rate_hz` | 5.0 | old |\n'))
    problems = stale_tables(readmes)
    assert len(problems) == 1 and 'control_arbiter' in problems[0]
    assert 'mobile-vla doc params --write' in problems[0]
    assert write_tables(readmes) == [path]
    assert path.read_text() == text and stale_tables(readmes) == []


def test_a_readme_without_markers_is_named_and_never_rewritten(readmes):
    path = readme('episode_recorder', readmes)
    broken = path.read_text().replace('<!-- params:episode_recorder:begin -->\n', '')
    path.write_text(broken)
    assert any('no parameter table for episode_recorder' in p for p in stale_tables(readmes))
    with pytest.raises(ValueError, match='add them where its parameter table goes'):
        write_tables(readmes)
    assert path.read_text() == broken
