"""Every node parameter is documented in the package README, and the README's API table
names every route the OpenAPI document has."""

from pathlib import Path

from mobile_vla.package_check import undocumented_parameters
from mobile_vla_web.config import WebConfig
from mobile_vla_web.openapi import openapi

README = Path(__file__).resolve().parents[1] / 'README.md'


def test_readme_documents_every_parameter():
    missing = undocumented_parameters(README, WebConfig)
    assert not missing, f'README.md does not document: {missing}'


def test_readme_lists_every_route():
    text = README.read_text()
    missing = [path for path in openapi()['paths'] if path not in text]
    assert not missing, f'README.md does not list: {missing}'
