import pytest

import cfn


@pytest.fixture(scope="session")
def template() -> dict:
    return cfn.load()


@pytest.fixture(scope="session")
def template_text() -> str:
    return cfn.text()


@pytest.fixture(scope="session")
def resolver(template) -> cfn.Resolver:
    """The template with its defaults (and the three required values of cfn.REQUIRED_PARAMS)."""
    return cfn.Resolver(template)
