# -*- coding: utf-8 -*-
"""Make the repository importable as ansible_collections.winimage.provisioning.

The collection is the repository root; plain pytest needs it under an
``ansible_collections/<namespace>/<name>`` path. A per-session temporary folder
holds that path as a symlink to the checkout, so nothing is written into the
repository and parallel runs do not share state.
"""

import os
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ helpers (odj_reference, ...)
SHARED = os.path.join(os.path.dirname(REPO), 'shared')

_root = tempfile.mkdtemp(prefix='winimage-collections-')
os.makedirs(os.path.join(_root, 'ansible_collections', 'winimage'))
os.symlink(REPO, os.path.join(_root, 'ansible_collections', 'winimage', 'provisioning'))
sys.path.insert(0, _root)
os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', _root)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip is a failure: CI installs every tool and has ../shared beside the clone,
    so a skip there means a missing dependency, not an optional one."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes') and report.skipped and not hasattr(report, 'wasxfail'):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = 'failed'
        report.longrepr = 'skipped under CI=true (a dependency CI must install is missing): %s' % reason


@pytest.fixture(scope='session')
def shared_dir():
    """The ../shared folder beside the checkout; skip when it is absent."""
    if not os.path.isdir(SHARED):
        pytest.skip('../shared (fixtures beside the checkout) is absent')
    return SHARED


@pytest.fixture(scope='session')
def collections_root():
    """A folder holding ansible_collections/winimage/provisioning -> the checkout."""
    return _root
