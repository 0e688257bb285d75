# -*- coding: utf-8 -*-
"""The odj_info and odj_convert filters, called directly."""

import base64
import uuid

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.winimage.provisioning.plugins.filter.odj_convert import FilterModule as ConvertFilters
from ansible_collections.winimage.provisioning.plugins.filter.odj_info import FilterModule as InfoFilters
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T

PASSWORD = 'filter-test-password-' + uuid.uuid4().hex
odj_info = InfoFilters().filters()['odj_info']
odj_convert = ConvertFilters().filters()['odj_convert']


@pytest.fixture(scope='module')
def raw():
    return P.encode(P.build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test', domain_guid=uuid.UUID(int=9),
        domain_sid='S-1-5-21-1-2-3', machine_name='KIOSK-9', machine_password=PASSWORD, dc_name='dc1',
        dc_address='10.0.0.1', dc_flags=0x1fd, options=0, rid=1234))


def test_info_from_every_text_form(raw):
    b64 = T.to_base64(raw)
    djoin = T.to_djoin_file(raw)
    values = [b64, base64.b64encode(djoin).decode(), djoin[2:].decode('utf-16-le'), '\ufeff' + b64, raw, djoin]
    for value in values:
        facts = odj_info(value)
        assert facts['machine_name'] == 'KIOSK-9' and facts['machine_rid'] == 1234
        assert PASSWORD not in repr(facts)


def test_convert_both_ways(raw):
    b64 = T.to_base64(raw)
    djoin_b64 = odj_convert(b64, to='djoin_file')
    same = base64.b64decode(djoin_b64) == T.to_djoin_file(raw)
    assert same
    same = odj_convert(djoin_b64) == b64 and odj_convert(djoin_b64, 'base64') == b64
    assert same


def test_filters_reject_bad_input(raw):
    with pytest.raises(AnsibleFilterError) as err:
        odj_info(T.to_base64(raw[:100]))
    assert 'not a valid provisioning package' in str(err.value)
    with pytest.raises(AnsibleFilterError):
        odj_convert(T.to_base64(raw), to='hex')
    with pytest.raises(AnsibleFilterError) as err:
        odj_convert('%%%')
    assert PASSWORD not in str(err.value)
