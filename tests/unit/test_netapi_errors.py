# -*- coding: utf-8 -*-
"""NET_API_STATUS names, numbers and messages (plugins/module_utils/common/netapi_errors.py)."""

import json
import shutil
import subprocess

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.common import netapi_errors as ne

# The offline-join codes, in lmerr.h order, NERR_BASE + 609 ... (lmerr.h).
ODJ_CODES = [
    'NERR_NoOfflineJoinInfo', 'NERR_BadOfflineJoinInfo', 'NERR_CantCreateJoinInfo', 'NERR_BadDomainJoinInfo',
    'NERR_JoinPerformedMustRestart', 'NERR_NoJoinPending', 'NERR_ValuesNotSet', 'NERR_CantVerifyHostname',
    'NERR_CantLoadOfflineHive', 'NERR_ConnectionInsecure', 'NERR_ProvisioningBlobUnsupported',
    'NERR_DS8DCRequired', 'NERR_LDAPCapableDCRequired', 'NERR_DS8DCNotFound', 'NERR_TargetVersionUnsupported',
    'NERR_InvalidMachineNameForJoin', 'NERR_DS9DCNotFound', 'NERR_PlainTextSecretsRequired',
    'NERR_CannotUnjoinAadDomain',
]


def test_offline_join_codes_follow_lmerr_h():
    for offset, name in enumerate(ODJ_CODES):
        assert ne.code_of(name) == ne.NERR_BASE + 609 + offset, name


@pytest.mark.parametrize('name, code', [
    ('NERR_UserExists', 2224), ('NERR_NoOfflineJoinInfo', 2709), ('NERR_BadOfflineJoinInfo', 2710),
    ('NERR_CantCreateJoinInfo', 2711), ('NERR_BadDomainJoinInfo', 2712), ('NERR_JoinPerformedMustRestart', 2713),
    ('NERR_NoJoinPending', 2714), ('NERR_ValuesNotSet', 2715), ('NERR_CantVerifyHostname', 2716),
    ('NERR_CantLoadOfflineHive', 2717), ('NERR_ConnectionInsecure', 2718), ('NERR_ProvisioningBlobUnsupported', 2719),
    ('NERR_LDAPCapableDCRequired', 2721), ('ERROR_ACCESS_DENIED', 5), ('ERROR_NO_SUCH_DOMAIN', 1355),
    ('ERROR_INVALID_DOMAIN_ROLE', 1354), ('ERROR_INVALID_PARAMETER', 87),
])
def test_required_names(name, code):
    assert ne.code_of(name) == code
    assert ne.error_name(code) == name
    assert ne.lookup(name).code == code


def test_table_is_consistent():
    assert len(ne.BY_CODE) == len(ne._TABLE), 'duplicate number'
    assert len(ne.BY_NAME) == len(ne._TABLE), 'duplicate name'
    for err in ne.BY_CODE.values():
        assert err.message and err.message.endswith(('.', ')')), err.name
        assert err.name.startswith(('NERR_', 'ERROR_', 'RPC_S_')), err.name


def test_numbers_agree_with_samba_werror():
    """Samba's generated werror table is an independent source for most codes."""
    python3 = shutil.which('python3', path='/usr/bin')
    if python3 is None:
        pytest.skip('system python3 absent')
    probe = subprocess.run([python3, '-c', 'import json, samba.werror as w; '
                            'print(json.dumps({k: getattr(w, k) for k in dir(w) if k.startswith("WERR_")}))'],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip('samba python bindings not importable: %s' % probe.stderr.strip()[-200:])
    samba = json.loads(probe.stdout)
    compared = 0
    for name, code, dummy in ne._TABLE:
        if name.startswith('ERROR_'):
            key = 'WERR_' + name[len('ERROR_'):]
        else:
            key = 'WERR_' + name.upper()
        if key in samba:
            assert samba[key] == code, name
            compared += 1
    assert compared >= 40


def test_lookup_forms():
    assert ne.lookup('2713').name == 'NERR_JoinPerformedMustRestart'
    assert ne.lookup('0xA99').name == 'NERR_JoinPerformedMustRestart'
    assert ne.lookup(0x80070005).name == 'ERROR_ACCESS_DENIED'  # HRESULT_FROM_WIN32
    assert ne.lookup(-2147024891).name == 'ERROR_ACCESS_DENIED'  # same, signed
    assert ne.lookup('NERR_NoSuchThing') is None
    assert ne.lookup(424242) is None
    with pytest.raises(TypeError):
        ne.lookup(True)
    with pytest.raises(KeyError, match='NERR_Bogus'):
        ne.code_of('NERR_Bogus')


def test_describe_and_restart():
    msg = ne.describe(2717, 'NetRequestProvisioningPackageInstall')
    assert msg.startswith('NetRequestProvisioningPackageInstall failed: NERR_CantLoadOfflineHive (2717): Unable to load')
    unknown = ne.describe(123456)
    assert 'UNKNOWN_123456' in unknown and '0x0001E240' in unknown
    assert ne.error_name(123456) == 'UNKNOWN_123456'
    assert ne.is_restart_required(2713)
    assert not ne.is_restart_required(0)
    assert not ne.is_restart_required(2714)
    assert ne.as_dict(2224) == {'code': 2224, 'name': 'NERR_UserExists', 'message': ne.BY_CODE[2224].message}
    assert ne.as_dict(99999)['name'] == 'UNKNOWN_99999'
