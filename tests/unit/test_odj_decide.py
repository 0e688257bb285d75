# -*- coding: utf-8 -*-
"""The shared offline-join decisions: same join, install, provision, provisioning options."""

import os

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import decide as D
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw


@pytest.fixture(scope='module')
def kiosk(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return D.package_join(decode(to_raw(handle.read())))


def test_package_join_has_every_name_of_the_domain(kiosk):
    machine, domains = kiosk
    assert machine == 'KIOSK-07'
    assert 'corp.example.test' in domains and 'corp' in domains


@pytest.mark.parametrize('machine, domain', [('kiosk-07', 'CORP.EXAMPLE.TEST.'), ('KIOSK-07$', 'corp'),
                                             (' Kiosk-07 ', ['other.test', 'corp.example.test'])])
def test_same_join_normalises_both_sides_alike(kiosk, machine, domain):
    assert D.same_join(machine, domain, *kiosk)
    assert D.same_join(*(kiosk + (machine, domain)))


@pytest.mark.parametrize('machine, domain', [('KIOSK-08', 'corp.example.test'), ('KIOSK-07', 'example.test'),
                                             ('', 'corp.example.test'), ('KIOSK-07', '')])
def test_other_joins_differ(kiosk, machine, domain):
    assert not D.same_join(machine, domain, *kiosk)


def test_decide_install(kiosk):
    other = ('WS0001', {'corp.example.test'})
    assert D.decide_install(None, kiosk, False).action == 'install'
    assert D.decide_install(None, kiosk, False, joined=('kiosk-07', 'corp.example.test')).action == 'unchanged'
    assert D.decide_install(kiosk, kiosk, True).action == 'unchanged'
    assert D.decide_install(kiosk, kiosk, True, force=True).action == 'unchanged'
    assert D.decide_install(kiosk, kiosk, False).action == 'install'
    with pytest.raises(D.JoinConflict, match='WS0001 in corp.example.test .*KIOSK-07 in corp.example.test'):
        D.decide_install(other, kiosk, False)
    assert D.decide_install(other, kiosk, False, force=True).action == 'install'


def test_decide_provision(kiosk):
    assert D.decide_provision(None, 'KIOSK-07', 'corp.example.test').action == 'provision'
    assert D.decide_provision(kiosk, 'kiosk-07', 'corp.example.test.').action == 'unchanged'
    assert D.decide_provision(kiosk, 'kiosk-07', 'corp.example.test', force=True).action == 'provision'
    with pytest.raises(D.JoinConflict, match='KIOSK-07 in corp.example.test, not WS0001'):
        D.decide_provision(kiosk, 'WS0001', 'corp.example.test')
    with pytest.raises(D.JoinConflict, match='holds no provisioning package'):
        D.decide_provision(None, 'WS0001', 'corp.example.test', exists=True)
    assert D.decide_provision(None, 'WS0001', 'corp.example.test', force=True, exists=True).action == 'provision'


def test_provision_option_problems():
    assert D.provision_option_problems({}) == ([], [])
    errors, warnings = D.provision_option_problems({'skip_account_search': True, 'downlevel_priv_support': True,
                                                    'provision_root_ca_certs': True},
                                                   machine_account_ou='OU=x', certificate_templates=['Machine'])
    assert len(errors) == 2 and 'domain_server' in errors[0] and 'machine_account_ou' in errors[1]
    assert len(warnings) == 1 and 'ignored' in warnings[0]
    assert D.provision_option_problems({'skip_account_search': True}, domain_server='dc1') == ([], [])
