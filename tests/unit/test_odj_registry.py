# -*- coding: utf-8 -*-
"""The section 2 table: from a real package to keys and values, control set, read-back and comparison."""

import os
import subprocess
import sys
import uuid

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as hx
from ansible_collections.winimage.provisioning.plugins.module_utils.image import registry as reg
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_CERT,
    PART_JOINPROV2,
    PART_POLICY,
    CertPart,
    JoinProv2Part,
    PackagePart,
    PolicyElement,
    PolicyElementList,
    PolicyPart,
    build_package,
    decode,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fixture_package(shared_dir, name='samba-ou-kiosk07.djoin'):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', name), 'rb') as handle:
        return decode(handle.read())


def sample_hive(tmp_path):
    out = str(tmp_path / 'img')
    subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', out],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, 'sample-01', 'Windows', 'System32', 'config', 'SYSTEM')


def table(entries):
    return dict(((e.key, e.name), (e.vtype, e.value)) for e in entries)


def test_plan_is_exactly_the_documented_registry_table(shared_dir):
    pd = fixture_package(shared_dir)
    w7 = pd.win7
    got = table(reg.plan_entries(pd, 'ControlSet001'))
    oj = 'ControlSet001\\Control\\Lsa\\OfflineJoin'
    op = 'ControlSet001\\Control\\Lsa\\OfflineProvisioning'
    jd = 'ControlSet001\\Services\\Netlogon\\JoinDomain'
    tcp = 'ControlSet001\\Services\\Tcpip\\Parameters'
    guid = uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2').bytes_le
    expected = {
        (oj, 'JoinAction'): (hx.REG_DWORD, 1), (oj, 'MachineName'): (hx.REG_SZ, 'KIOSK-07'),
        (oj, 'CurrentValue'): (hx.REG_SZ, 'checked apart'), (oj, 'DNSDIName'): (hx.REG_SZ, 'CORP'),
        (oj, 'DNSDIDomName'): (hx.REG_SZ, 'corp.example.test'), (oj, 'DNSDIForestName'): (hx.REG_SZ, 'corp.example.test'),
        (oj, 'DNSDIGuid'): (hx.REG_BINARY, guid), (oj, 'DNSDISid'): (hx.REG_SZ, 'S-1-5-21-2720103478-3893655958-3880862394'),
        (oj, 'JoinOptions'): (hx.REG_DWORD, 0), (oj, 'ProvisionOptions'): (hx.REG_DWORD, 6),
        # only the join provider part: the Microsoft export shows nothing else (the package's non-essential
        # join provider 3 part is left out, not given invented Rid/Sid values)
        (op, 'NumParts'): (hx.REG_DWORD, 1),
        (op + '\\1', 'Flags'): (hx.REG_DWORD, 1), (op + '\\1', 'Type'): (hx.REG_SZ, '631c7621-5289-4321-bc9e-80f843f868c3'),
        (op + '\\1\\Data', None): (None, None),
        ('ControlSet001\\Services\\Netlogon', 'Start'): (hx.REG_DWORD, 2),
        (jd, 'DomainControllerName'): (hx.REG_SZ, '\\\\dc1.corp.example.test'),
        (jd, 'DomainControllerAddress'): (hx.REG_SZ, '\\\\127.0.0.1'),
        (jd, 'DomainControllerAddressType'): (hx.REG_DWORD, 1), (jd, 'DomainGuid'): (hx.REG_BINARY, guid),
        (jd, 'DomainName'): (hx.REG_SZ, 'corp.example.test'), (jd, 'DnsForestName'): (hx.REG_SZ, 'corp.example.test'),
        (jd, 'Flags'): (hx.REG_DWORD, 0xE00013FD), (jd, 'DcSiteName'): (hx.REG_SZ, 'Default-First-Site-Name'),
        (jd, 'ClientSiteName'): (hx.REG_SZ, 'Default-First-Site-Name'),
        (tcp, 'Hostname'): (hx.REG_SZ, 'KIOSK-07'), (tcp, 'NV Hostname'): (hx.REG_SZ, 'KIOSK-07'),
        (tcp, 'Domain'): (hx.REG_SZ, 'corp.example.test'), (tcp, 'NV Domain'): (hx.REG_SZ, 'corp.example.test'),
        ('ControlSet001\\Control\\ComputerName\\ComputerName', 'ComputerName'): (hx.REG_SZ, 'KIOSK-07'),
        ('ControlSet001\\Control\\ComputerName\\ActiveComputerName', 'ComputerName'): (hx.REG_SZ, 'KIOSK-07'),
        ('Setup\\DJOIN', 'ODJComputerNameSet'): (hx.REG_DWORD, 1),
    }
    secret = got.pop((oj, 'CurrentValue'))
    expected.pop((oj, 'CurrentValue'))
    same = secret == (hx.REG_SZ, w7.machine_password)
    assert same, 'CurrentValue is the package password (value not shown)'
    assert got == expected


def test_entries_never_show_the_password(shared_dir):
    pd = fixture_package(shared_dir)
    entries = reg.plan_entries(pd, 'ControlSet001')
    secret = [e for e in entries if e.secret]
    same = len(secret) == 1 and secret[0].value == pd.win7.machine_password
    assert same, 'exactly one entry carries the password'
    shown = repr(entries) + repr([e.as_dict() for e in entries])
    leaked = pd.win7.machine_password in shown
    assert not leaked, 'the password must not appear in repr/as_dict'
    assert reg.MASK in shown


def test_control_set_follows_select_current(tmp_path):
    path = sample_hive(tmp_path)
    out = str(tmp_path / 'cs2')
    with hx.Hive(path, write=True) as hive:
        hive.navigate('ControlSet002\\Control\\Lsa', create=True)
        hive.set_value(hive.navigate('Select'), 'Current', hx.REG_DWORD, hx.encode_dword(2))
        hive.commit(out)
    with hx.Hive(out) as hive:
        assert reg.control_set_name(reg.HivexReader(hive)) == 'ControlSet002'
    assert reg.control_set_name(reg.RegipyReader(out)) == 'ControlSet002'
    with hx.Hive(path) as hive:
        assert reg.control_set_name(reg.HivexReader(hive)) == 'ControlSet001'


def test_ntuser_hive_is_not_a_system_hive(shared_dir, tmp_path):
    import lzma
    import shutil
    path = str(tmp_path / 'NTUSER.DAT')
    with lzma.open(os.path.join(shared_dir, 'fixtures', 'hives', 'transactions_NTUSER.DAT.xz')) as fin, open(path, 'wb') as fout:
        shutil.copyfileobj(fin, fout)
    with hx.Hive(path) as hive:
        with pytest.raises(reg.NotSystemHiveError, match='not a SYSTEM hive'):
            reg.control_set_name(reg.HivexReader(hive))


def _package_with(extra):
    return build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
        domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'), domain_sid='S-1-5-21-1-2-3',
        machine_name='WS99', machine_password='not-a-real-secret', dc_name='dc1.corp.example.test', dc_address='127.0.0.1',
        dc_flags=0xE00013FD, dc_site_name='Default-First-Site-Name', client_site_name='Default-First-Site-Name',
        options=6, rid=1200, extra_parts=extra)


def test_certificate_and_policy_parts_are_named_as_not_placeable():
    cert = PackagePart(part_type=PART_CERT, flags=0, payload=CertPart(pfx_stores=[], sst_stores=[], extension=None),
                       extension=None)
    policy = PackagePart(part_type=PART_POLICY, flags=1, payload=PolicyPart(element_lists=[PolicyElementList(
        source='gpo', root_key_id=1, elements=[PolicyElement(key_path='k', value_name='v', value_type=4, data=b'\x01\0\0\0')])],
        extension=None), extension=None)
    pd = _package_with([cert, policy])
    with pytest.raises(reg.RegistryRouteError) as err:
        reg.plan_entries(pd, 'ControlSet001')
    text = str(err.value)
    assert 'certificates' in text and 'policies' in text and '(essential)' in text and 'unattend' in text
    entries = reg.plan_entries(pd, 'ControlSet001', skip_unsupported=True)
    got = table(entries)
    assert got[('ControlSet001\\Control\\Lsa\\OfflineProvisioning', 'NumParts')] == (hx.REG_DWORD, 1)
    assert [b['label'] for b in reg.unsupported_parts(pd)] == ['certificates (OP_CERT_PART)', 'policies (OP_POLICY_PART)']


def test_join_provider_parts_get_no_invented_values(shared_dir):
    pd = fixture_package(shared_dir)
    assert [p['label'] for p in reg.omitted_parts(pd)] == ['join provider 3']
    assert reg.unsupported_parts(pd) == []
    names = set(name for (key, name) in table(reg.plan_entries(pd, 'ControlSet001')))
    assert not names & {'Rid', 'Sid', 'ObjectGuid', 'NetBiosName', 'PersistentSite', 'DynamicSite', 'PrimaryDNSDomain'}
    # a persistent site (join provider 2) cannot be placed: refused like certificates, unless skipped
    site = PackagePart(part_type=PART_JOINPROV2, flags=0, payload=JoinProv2Part(
        flags=1, netbios_name='WS99', site_name='Branch', primary_dns_domain='corp.example.test', reserved=0,
        reserved_str=None), extension=None)
    with pytest.raises(reg.RegistryRouteError, match='join provider 2'):
        reg.plan_entries(_package_with([site]), 'ControlSet001')


def test_every_written_key_has_a_documented_source():
    import re
    with open(os.path.join(REPO, 'docs', 'docsite', 'rst', 'requester.rst')) as handle:
        doc = handle.read()
    for key, values, source in reg.REGISTRY_SOURCES:
        assert source in (reg.SOURCE_EXPORT, reg.SOURCE_INFERRED)
        first = key.split(',', maxsplit=1)[0].split(' (', maxsplit=1)[0]
        assert '``%s``' % first in doc, first
        for name in re.findall(r'[A-Z][A-Za-z ]*[A-Za-z]', values.split(' (', maxsplit=1)[0]):
            if name.strip() in ('Data',):
                continue
            assert name.strip() in doc, name


def test_the_documented_registry_table_rows_are_the_source_table():
    """Row by row, requester.rst's table names the same keys, in the same order, with the same source."""
    with open(os.path.join(REPO, 'docs', 'docsite', 'rst', 'requester.rst')) as handle:
        lines = handle.read().splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip().startswith('=====') and line.strip().endswith('========')]
    top, head, bottom = rules[:3]
    rule = lines[top]
    starts = [i for i, c in enumerate(rule) if c == '=' and (i == 0 or rule[i - 1] == ' ')]
    rows = []
    for line in lines[head + 1:bottom]:
        key, source = line[starts[0]:starts[1]].strip(), line[starts[2]:].strip()
        if source:
            rows.append([key, source])
        elif rows and key:
            rows[-1][0] += ' ' + key
    documented = [(key.split('``')[1], source) for key, source in rows]
    expected = [(key.split(',', maxsplit=1)[0].split(' (', maxsplit=1)[0], source) for key, dummy, source in reg.REGISTRY_SOURCES]
    assert documented == expected


def test_write_read_pending_and_compare_both_readers(shared_dir, tmp_path):
    pd = fixture_package(shared_dir)
    path = sample_hive(tmp_path)
    out = str(tmp_path / 'written')
    entries = reg.plan_entries(pd, 'ControlSet001')
    with hx.Hive(path) as hive:
        assert reg.read_pending(reg.HivexReader(hive)) is None
        assert reg.compare(entries, reg.HivexReader(hive))  # not installed yet
    with hx.Hive(path, write=True) as hive:
        for entry in entries:
            node = hive.navigate(entry.key, create=True)
            if entry.name is not None:
                hive.set_value(node, entry.name, entry.vtype, hx.encode_value(entry.vtype, entry.value))
        hive.commit(out)
    with hx.Hive(out) as hive:
        assert reg.compare(entries, reg.HivexReader(hive)) == []
        pending = reg.read_pending(reg.HivexReader(hive))
    assert reg.compare(entries, reg.RegipyReader(out)) == []
    assert pending == reg.read_pending(reg.RegipyReader(out))
    assert pending['machine_name'] == 'KIOSK-07' and pending['domain'] == 'corp.example.test'
    assert pending['clear_text_secret_present'] is True
    assert pending['dc']['name'] == '\\\\dc1.corp.example.test'
    assert [p['label'] for p in pending['parts']] == ['join provider (ODJ_WIN7BLOB)']
    leaked = pd.win7.machine_password in repr(pending)
    assert not leaked, 'read_pending must not return the password'
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import package_join, pending_join, same_join
    assert same_join(*(pending_join(pending) + package_join(pd)))
    assert not same_join(*(pending_join(pending) + package_join(fixture_package(shared_dir, 'samba-reuse-ws0001.djoin'))))
    # a changed value is reported, the secret without its value
    other = reg.plan_entries(fixture_package(shared_dir, 'samba-reuse-ws0001.djoin'), 'ControlSet001')
    problems = reg.compare(other, reg.RegipyReader(out))
    names = set(p['name'] for p in problems)
    assert {'MachineName', 'CurrentValue', 'Hostname'} <= names
    leaked = any(pd.win7.machine_password in p['problem'] for p in problems)
    assert not leaked, 'a mismatch report must not show the password'


def test_every_written_value_is_in_the_source_table(shared_dir):
    """Nothing is written that REGISTRY_SOURCES (and so the docs table) does not list with its source."""
    import re
    listed = []
    for key, values, dummy in reg.REGISTRY_SOURCES:
        keys = [k.strip().split(' (')[0].replace('...\\', 'Control\\ComputerName\\') for k in key.split(',')]
        names = re.findall(r'[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)?', values.split(' (', maxsplit=1)[0])
        listed.append((keys, set(names)))
    for entry in reg.plan_entries(fixture_package(shared_dir), 'ControlSet001'):
        key = entry.key.replace('ControlSet001\\', '')
        key = re.sub(r'\\\d+(\\Data)?$', lambda m: '\\<n>', key)
        ok = any(key in keys and (entry.name is None or entry.name in names) for keys, names in listed)
        assert ok, (entry.key, entry.name)
