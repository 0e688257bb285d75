# -*- coding: utf-8 -*-
"""Machine name rules, passwords and the result summary of the provisioner engine."""

import re
import string

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import (
    check_machine_name, default_password)
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import (
    PASSWORD_LENGTH, Machine, generate_password, summarize)


@pytest.mark.parametrize('name, expected', [
    ('ws01', 'WS01'), ('WS-0042', 'WS-0042'), ('A', 'A'), ('ABCDEFGHIJKLMNO', 'ABCDEFGHIJKLMNO'), (' kiosk7 ', 'KIOSK7'),
    ('1a', '1A'),
])
def test_valid_names(name, expected):
    assert check_machine_name(name) == expected


@pytest.mark.parametrize('name, fragment', [
    ('', 'empty'), ('   ', 'empty'), ('ABCDEFGHIJKLMNOP', 'at most 15'), ('bad_name', "'_'"),
    ('ws 01', "' '"), ('ws01.corp.example.com', 'not a DNS name'), ('-ws01', 'hyphen'), ('ws01-', 'hyphen'),
    ('123456', 'only digits'), ('WS$', "'$'"), ('wé01', "'é'"),
])
def test_invalid_names_say_why(name, fragment):
    with pytest.raises(ValueError) as err:
        check_machine_name(name)
    assert fragment in str(err.value)


def test_generated_passwords():
    seen = set()
    allowed = set(string.printable) - set(string.whitespace) - set('"\'`\\%&<>()')
    for _index in range(200):
        password = generate_password()
        assert len(password) == PASSWORD_LENGTH
        assert len(password.encode('utf-8')) <= 64
        assert set(password) <= allowed
        classes = sum(bool(re.search(p, password)) for p in ('[a-z]', '[A-Z]', '[0-9]', '[^A-Za-z0-9]'))
        assert classes >= 3
        seen.add(password)
    assert len(seen) == 200


def test_default_password_is_the_lower_case_name_cut_at_14():
    assert default_password('WS01') == 'ws01'
    assert default_password('ABCDEFGHIJKLMNO') == 'abcdefghijklmn'


def test_summary_and_diff_hold_no_package_unless_asked():
    ok = Machine('ws01')
    ok.name, ok.status, ok.changed, ok.path, ok.package_b64 = 'WS01', 'created', True, '/x/WS01.djoin', 'QUJD'
    bad = Machine('bad_name')
    bad.fail('invalid', 'invalid machine name')
    same = Machine('ws02')
    same.name, same.status = 'WS02', 'unchanged'
    summary = summarize([ok, bad, same])
    assert summary['changed'] is True
    assert summary['failed_machines'] == ['bad_name']
    assert summary['counts'] == {'created': 1, 'invalid': 1, 'unchanged': 1}
    assert 'package' not in summary['machines'][0]
    assert summary['diff']['before'] == {'accounts': {'WS01': 'absent'}, 'files': {'/x/WS01.djoin': 'absent'}}
    assert summary['diff']['after'] == {'accounts': {'WS01': 'created'}, 'files': {'/x/WS01.djoin': 'new package'}}
    assert summarize([ok], with_package=True)['machines'][0]['package'] == 'QUJD'
    assert 'QUJD' not in repr(summary)
