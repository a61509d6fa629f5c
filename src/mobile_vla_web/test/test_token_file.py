"""The access token's file: made private on the first start, reused, and refused when
others may read it or it holds no token."""

from __future__ import annotations

import os
import stat

import pytest

from mobile_vla_web.token_file import TokenFileError, load_or_create


def test_the_first_start_makes_a_private_file_and_later_ones_reuse_it(tmp_path):
    path = tmp_path / 'deeper' / 'token'
    token, made = load_or_create(path)
    assert made and len(token) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert load_or_create(path) == (token, False)
    assert load_or_create(tmp_path / 'other')[0] != token


def test_a_file_others_may_read_is_refused_with_the_fix(tmp_path):
    path = tmp_path / 'token'
    path.write_text('t' * 43)
    path.chmod(0o640)
    with pytest.raises(TokenFileError, match='chmod 600'):
        load_or_create(path)


def test_a_file_without_a_usable_token_is_refused(tmp_path):
    path = tmp_path / 'token'
    path.write_text('short\n')
    path.chmod(0o600)
    with pytest.raises(TokenFileError, match='delete it'):
        load_or_create(path)


def test_an_unwritable_place_says_what_to_do(tmp_path):
    folder = tmp_path / 'ro'
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip('running as a user who may write anywhere (root)')
        with pytest.raises(TokenFileError, match='token_file'):
            load_or_create(folder / 'token')
    finally:
        folder.chmod(0o700)
