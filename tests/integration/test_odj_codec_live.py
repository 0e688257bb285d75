# -*- coding: utf-8 -*-
"""Packages that Samba's ``net offlinejoin provision`` makes against the live throwaway DC.

Every one decodes, re-encodes byte for byte in each form, and every field the
codec decodes equals what Samba's ``ndrdump`` prints for it.
"""

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts

import odj_reference
from test_odj_codec_support import assert_same_bytes

CASES = [
    ('LIVECODEC1', {}),
    ('LIVECODEC2', {'defpwd': True}),
    ('LIVECODEC1', {'reuse': True}),
    ('LIVE-OU-03', {'ou': True}),
    ('L', {}),
    ('LIVECODEC12345', {}),
]


@pytest.fixture(scope='module')
def live_packages(samba_dc, net_offlinejoin):
    packages = []
    for name, how in CASES:
        ou = 'CN=Users,%s' % samba_dc.base_dn if how.get('ou') else None
        djoin = net_offlinejoin(samba_dc, name, machine_account_ou=ou, reuse=how.get('reuse', False),
                                defpwd=how.get('defpwd', False), raw=False)
        packages.append((name, how, djoin))
    return packages


def test_live_packages_round_trip_in_every_form(live_packages):
    for name, how, djoin in live_packages:
        label = '%s %s' % (name, sorted(how))
        assert T.detect_form(djoin) == 'djoin_file', label
        raw = T.to_raw(djoin)
        pd = P.decode(djoin)
        assert_same_bytes(P.encode(pd), raw, label)
        assert_same_bytes(T.to_djoin_file(P.encode(pd)), djoin, label)
        assert_same_bytes(P.encode(P.decode(T.to_base64(raw))), raw, label)


@pytest.mark.skipif(odj_reference.NDRDUMP is None, reason='ndrdump (Debian samba-testsuite) not installed')
def test_live_packages_agree_with_ndrdump(live_packages):
    for name, how, djoin in live_packages:
        raw = T.to_raw(djoin)
        assert odj_reference.ndrdump_fields(raw) == odj_reference.codec_fields(P.decode(raw)), name


def test_live_package_facts_name_the_live_dc(samba_dc, live_packages):
    for name, how, djoin in live_packages:
        facts = package_facts(P.decode(djoin), 'djoin_file')
        assert facts['machine_name'] == name
        assert facts['domain']['dns_name'] == samba_dc.dns_domain
        assert facts['domain']['netbios_name'] == samba_dc.netbios
        assert facts['dc']['address'] == '\\\\' + samba_dc.ip
        assert facts['dc']['name'].lower() == '\\\\' + samba_dc.dc_hostname.lower()
        assert 'DS_WRITABLE_FLAG' in facts['dc']['flag_names']
        assert facts['machine_sid'] == '%s-%s' % (facts['domain']['sid'], facts['machine_rid'])
        assert facts['has_password'] is True
        if samba_dc.domain_sid:
            assert facts['domain']['sid'] == samba_dc.domain_sid
        if how.get('defpwd'):
            assert 'NETSETUP_PROVISION_USE_DEFAULT_PASSWORD' in facts['option_names']


def test_live_packages_pass_the_loaders_checks_and_flips_are_refused(live_packages):
    """Every package Samba makes passes the loader's cross-checks; 60 seeded bit flips of each: no traceback, at
    least three quarters refused, and whatever is still accepted carries the same machine and password."""
    import random
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
    for name, how, djoin in live_packages:
        original = load_package(data=djoin).pd.win7
        rnd = random.Random(name + repr(sorted(how)))
        refused = 0
        for dummy in range(60):
            bit = rnd.randrange(len(djoin) * 8)
            damaged = bytearray(djoin)
            damaged[bit // 8] ^= 1 << (bit % 8)
            try:
                loaded = load_package(data=bytes(damaged))
            except PackageLoadError:
                refused += 1
                continue
            assert loaded.pd.win7 == original, name
        assert refused >= 45, '%s: only %d of 60 flips refused' % (name, refused)
