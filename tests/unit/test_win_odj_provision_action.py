# -*- coding: utf-8 -*-
"""win_odj_provision on the controller: the package Windows returns is checked with the codec.

The PowerShell module cannot run here; its result with return_package=true is
the base64 package. These tests feed real packages (Samba-made, ../shared
fixtures) through the plugin's check, as they would come back from Windows.
"""

import os

import pytest

from ansible_collections.winimage.provisioning.plugins.action import win_odj_provision as act
from ansible_collections.winimage.provisioning.plugins.module_utils._odj_text import to_base64, to_raw


@pytest.fixture(scope='module')
def package(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return to_base64(to_raw(handle.read()))


def test_a_good_package_passes(package):
    assert act.check_returned_package({'package': package, 'machine_name': 'kiosk-07',
                                       'domain': 'corp.example.test'}) is None
    assert act.check_returned_package({'package': package, 'machine_name': 'KIOSK-07', 'domain': 'CORP'}) is None
    assert act.check_returned_package({'machine_name': 'KIOSK-07'}) is None  # nothing returned, nothing to check


def test_wrong_machine_or_domain_is_named(package):
    assert act.check_returned_package({'package': package, 'machine_name': 'WS0001'}) == (
        'the package Windows returned is for KIOSK-07, not WS0001')
    problem = act.check_returned_package({'package': package, 'machine_name': 'KIOSK-07', 'domain': 'other.test'})
    assert problem.startswith('the package Windows returned is for the domain ') and problem.endswith('other.test')


@pytest.mark.parametrize('mangle', [lambda b: b[:len(b) // 2], lambda b: b[:-1], lambda b: 'not base64 at all'])
def test_damaged_package_fails_without_showing_it(package, mangle):
    damaged = mangle(package)
    problem = act.check_returned_package({'package': damaged, 'machine_name': 'KIOSK-07'})
    assert problem is not None and problem.startswith('the package Windows returned is not a valid provisioning package')
    assert damaged[:40] not in problem
