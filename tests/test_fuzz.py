"""The fuzz targets of ``fuzz_targets.py``, bounded for ``make test``.

``FUZZ_EXAMPLES`` sets how many examples each target gets (default 150);
``scripts/fuzz.py`` runs them for minutes.
"""

import os

from fuzz_targets import check_config_loader, check_episode_reader, config_params, episode_files
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '150'))
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@BOUNDED
@given(episode_files())
def test_the_episode_reader_never_raises_anything_but_a_named_error(contents):
    check_episode_reader(contents)


@BOUNDED
@given(config_params())
def test_config_loaders_raise_config_error_or_nothing(case):
    check_config_loader(case)
