# -*- coding: utf-8 -*-
"""Registry Policy Files (Registry.pol): strict parser, writer, OP_POLICY_PART.

Checked against Samba's independent implementation of the format (the ``preg``
NDR structures of ``samba.dcerpc``, in the system Python) and, for the package
part, against Samba's ``ndrdump``.
"""

import json
import os
import struct
import subprocess
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import regpol as R
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import flags as F
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts

import odj_reference

SYSTEM_PYTHON = '/usr/bin/python3'
DOMAIN_SID = 'S-1-5-21-2720103478-3893655958-3880862394'
PASSWORD = 'unit-test-password-' + 'q' * 30


def _samba_preg_available():
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    proc = subprocess.run([SYSTEM_PYTHON, '-c', 'from samba.dcerpc import preg'], capture_output=True, check=False)
    return proc.returncode == 0


needs_samba_preg = pytest.mark.skipif(not _samba_preg_available(),
                                      reason='Samba python bindings (python3-samba) not installed')
needs_ndrdump = pytest.mark.skipif(odj_reference.NDRDUMP is None, reason='ndrdump (samba-testsuite) not installed')

KEY = 'Software\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU'


def sample_entries():
    return [
        R.RegPolEntry(KEY, 'NoAutoUpdate', F.REG_DWORD, R.encode_value(F.REG_DWORD, 1)),
        R.RegPolEntry(KEY, 'ScheduledInstallTime', F.REG_DWORD, R.encode_value(F.REG_DWORD, 3)),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Banner', F.REG_SZ, R.encode_value(F.REG_SZ, 'Grüße, Welt')),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Path', F.REG_EXPAND_SZ,
                      R.encode_value(F.REG_EXPAND_SZ, '%SystemRoot%\\Temp')),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Servers', F.REG_MULTI_SZ,
                      R.encode_value(F.REG_MULTI_SZ, ['a.example', 'b.example'])),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Big', F.REG_QWORD, R.encode_value(F.REG_QWORD, 2 ** 40 + 7)),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Blob', F.REG_BINARY, bytes(range(7))),
        R.RegPolEntry('Software\\Policies\\Contoso', '', F.REG_SZ, R.encode_value(F.REG_SZ, 'default value')),
        R.RegPolEntry('Software\\Policies\\Contoso\\Old', '**delvals.', F.REG_SZ, R.encode_value(F.REG_SZ, ' ')),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Empty', F.REG_NONE, b''),
        R.RegPolEntry('Software\\Policies\\Contoso', 'Odd', 0x12345678, b'\x01\x02\x03'),
    ]


def test_round_trip_keeps_types_and_data_exactly():
    entries = sample_entries()
    data = R.write(entries)
    assert data[:8] == b'PReg\x01\x00\x00\x00'
    parsed = R.parse(data)
    assert parsed == entries
    assert R.write(parsed) == data
    assert [entry.size for entry in parsed] == [len(entry.data) for entry in entries]


def test_header_only_file_has_no_entries():
    assert R.parse(b'PReg\x01\x00\x00\x00') == []
    assert R.write([]) == b'PReg\x01\x00\x00\x00'


def test_entry_layout_is_the_documented_grammar():
    data = R.write([('Software\\P', 'V', F.REG_DWORD, b'\x2a\x00\x00\x00')])
    expected = (b'PReg' + struct.pack('<I', 1) + '['.encode('utf-16-le') + 'Software\\P\x00'.encode('utf-16-le')
                + ';'.encode('utf-16-le') + 'V\x00'.encode('utf-16-le') + ';'.encode('utf-16-le')
                + struct.pack('<I', 4) + ';'.encode('utf-16-le') + struct.pack('<I', 4) + ';'.encode('utf-16-le')
                + b'\x2a\x00\x00\x00' + ']'.encode('utf-16-le'))
    assert data == expected


@needs_samba_preg
def test_samba_reads_what_we_write_and_we_read_what_samba_writes(tmp_path):
    entries = sample_entries()
    ours = tmp_path / 'ours.pol'
    ours.write_bytes(R.write(entries))
    theirs = tmp_path / 'theirs.pol'
    script = r'''
import json, struct, sys
from samba.ndr import ndr_unpack, ndr_pack
from samba.dcerpc import preg


def raw(entry):
    # Samba decodes data by type (winreg_Data); turn it back into the registry bytes
    value = entry.data
    if value is None:
        return b''
    if isinstance(value, str):
        return (value + '\x00').encode('utf-16-le')
    if isinstance(value, int):
        return struct.pack({4: '<I', 5: '>I', 11: '<Q'}[entry.type], value)
    return bytes(value)


f = ndr_unpack(preg.file, open(sys.argv[1], 'rb').read())
out = [[e.keyname, e.valuename, e.type, e.size, raw(e).hex()] for e in f.entries]
g = preg.file()
g.header.signature = 'PReg'
g.header.version = 1
items = []
for key, name, typ, value, size in [('Software\\Policies\\Samba', 'Level', 4, 5, 4),
                                    ('Software\\Policies\\Samba', 'Name', 1, 'ab', 6),
                                    ('Software\\Policies\\Samba\\Sub', '', 3, b'\x00\xff\x10', 3)]:
    e = preg.entry()
    e.keyname = key
    e.valuename = name
    e.type = typ
    e.data = value
    e.size = size
    items.append(e)
g.num_entries = len(items)
g.entries = items
open(sys.argv[2], 'wb').write(ndr_pack(g))
json.dump(out, sys.stdout)
'''
    proc = subprocess.run([SYSTEM_PYTHON, '-c', script, str(ours), str(theirs)], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode('utf-8', 'replace')
    seen = json.loads(proc.stdout)
    assert [(k, v, t, bytes.fromhex(d)) for k, v, t, _size, d in seen] == [tuple(entry) for entry in entries]
    assert [item[3] for item in seen] == [entry.size for entry in entries]
    parsed = R.parse(theirs.read_bytes(), source=str(theirs))
    assert parsed == [
        R.RegPolEntry('Software\\Policies\\Samba', 'Level', 4, b'\x05\x00\x00\x00'),
        R.RegPolEntry('Software\\Policies\\Samba', 'Name', 1, b'a\x00b\x00\x00\x00'),
        R.RegPolEntry('Software\\Policies\\Samba\\Sub', '', 3, b'\x00\xff\x10'),
    ]
    assert R.write(parsed) == theirs.read_bytes()


def _fault(data):
    with pytest.raises(R.RegPolError) as info:
        R.parse(data, source='Machine/Registry.pol')
    return info.value


def _one(key='Software\\K', name='V', typ=4, payload=b'\x01\x00\x00\x00'):
    return R.write([(key, name, typ, payload)])


@pytest.mark.parametrize('data, entry, offset, words', [
    (b'', None, 0, 'shorter than the 8-byte PReg header'),
    (b'PRe', None, 0, 'shorter than the 8-byte PReg header'),
    (b'REGF\x01\x00\x00\x00', None, 0, 'not a Registry Policy File'),
    (b'PReg\x02\x00\x00\x00', None, 4, 'version is 2'),
])
def test_header_faults_are_named(data, entry, offset, words):
    err = _fault(data)
    assert err.entry == entry and err.offset == offset
    assert words in str(err)
    assert 'Machine/Registry.pol' in str(err) and 'byte offset %d' % offset in str(err)


def test_fault_in_second_entry_names_entry_2_and_its_offset():
    good = _one()
    second_start = len(good)
    data = good + b'X\x00' + good[9:]
    err = _fault(data)
    assert err.entry == 2 and err.offset == second_start
    assert "expected '['" in str(err) and 'entry 2' in str(err)


def test_data_size_larger_than_the_file_is_refused():
    data = bytearray(_one())
    # size field: after '[' key NUL ';' name NUL ';' type ';'
    size_at = 8 + 2 + len('Software\\K\x00'.encode('utf-16-le')) + 2 + len('V\x00'.encode('utf-16-le')) + 2 + 4 + 2
    assert struct.unpack_from('<I', data, size_at)[0] == 4
    struct.pack_into('<I', data, size_at, 400)
    err = _fault(bytes(data))
    assert err.entry == 1 and err.offset == size_at
    assert 'data size is 400 bytes' in str(err)


def test_wrong_data_size_is_caught_at_the_closing_bracket():
    data = bytearray(_one())
    size_at = 8 + 2 + len('Software\\K\x00'.encode('utf-16-le')) + 2 + len('V\x00'.encode('utf-16-le')) + 2 + 4 + 2
    struct.pack_into('<I', data, size_at, 2)
    data += b'\x00\x00'
    err = _fault(bytes(data))
    assert err.entry == 1 and "expected ']'" in str(err)
    assert err.offset == size_at + 4 + 2 + 2


def test_unterminated_key_and_missing_semicolon_and_empty_key():
    header = b'PReg\x01\x00\x00\x00'
    err = _fault(header + '[Software'.encode('utf-16-le'))
    assert err.entry == 1 and err.offset == 10 and 'no terminating NUL' in str(err)
    err = _fault(header + '[Software\x00,'.encode('utf-16-le'))
    assert err.entry == 1 and "expected ';' after the key" in str(err)
    err = _fault(header + '[\x00;V\x00;'.encode('utf-16-le'))
    assert err.entry == 1 and 'key is empty' in str(err) and err.offset == 10


def test_invalid_utf16_is_refused():
    header = b'PReg\x01\x00\x00\x00'
    data = header + '['.encode('utf-16-le') + b'\x00\xd8' + 'x\x00;'.encode('utf-16-le')
    err = _fault(data)
    assert err.entry == 1 and 'not valid UTF-16LE' in str(err) and err.offset == 10


def test_truncated_file_and_trailing_bytes():
    good = _one()
    for cut in range(9, len(good)):
        err = _fault(good[:cut])
        assert err.entry == 1 and err.offset is not None and err.offset <= cut
    err = _fault(good + b'\x00')
    assert err.entry == 2 and err.offset == len(good)


def test_writer_refuses_bad_entries():
    with pytest.raises(R.RegPolError, match='non-empty'):
        R.write([('', 'v', 1, b'')])
    with pytest.raises(R.RegPolError, match='NUL'):
        R.write([('K', 'a\x00b', 1, b'')])
    with pytest.raises(R.RegPolError, match='32-bit'):
        R.write([('K', 'v', -1, b'')])
    with pytest.raises(R.RegPolError, match='bytes'):
        R.write([('K', 'v', 1, 'text')])


def test_read_file_names_the_path(tmp_path):
    path = tmp_path / 'Registry.pol'
    path.write_bytes(b'PReg\x01\x00\x00\x00[')
    with pytest.raises(R.RegPolError) as info:
        R.read_file(str(path))
    assert str(path) in str(info.value) and 'entry 1' in str(info.value)
    with pytest.raises(R.RegPolError, match='cannot read'):
        R.read_file(str(tmp_path / 'missing.pol'))


_text = st.text(alphabet=st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'), max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_text.filter(bool), _text, st.integers(0, 2 ** 32 - 1), st.binary(max_size=40)),
                max_size=6))
def test_any_entries_round_trip(entries):
    data = R.write(entries)
    assert R.parse(data) == [R.RegPolEntry(*entry) for entry in entries]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_parse_or_fail_cleanly(tail):
    data = b'PReg\x01\x00\x00\x00' + tail
    try:
        entries = R.parse(data)
    except R.RegPolError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
        assert exc.entry is not None and exc.entry >= 1
    else:
        assert R.write(entries) == data


def _package(part):
    return P.build_package(domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
                           domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'), domain_sid=DOMAIN_SID,
                           machine_name='WS01', machine_password=PASSWORD, dc_name='dc1.corp.example.test',
                           dc_address='127.0.0.1', dc_flags=0xe00013fd, rid=1105, extra_parts=[part])


def test_policy_part_one_list_per_file_one_element_per_entry(tmp_path):
    first = tmp_path / 'first.pol'
    second = tmp_path / 'second.pol'
    first.write_bytes(R.write(sample_entries()))
    second.write_bytes(R.write(sample_entries()[:2]))
    part = R.policy_part_from_files([str(first), str(second)])
    raw = P.encode(_package(part))
    decoded = P.decode(raw).part(P.PART_POLICY)
    assert [lst.source for lst in decoded.element_lists] == [str(first), str(second)]
    assert [lst.root_key_id for lst in decoded.element_lists] == [0x80000002, 0x80000002]
    assert R.entries_of(decoded.element_lists[0]) == R.parse(first.read_bytes())
    assert R.entries_of(decoded.element_lists[1]) == R.parse(second.read_bytes())
    facts = package_facts(P.decode(raw))
    text = repr(facts)
    assert PASSWORD not in text
    assert 'NoAutoUpdate' in text and 'REG_QWORD' in text


@needs_ndrdump
def test_samba_ndrdump_decodes_the_policy_part_identically(tmp_path):
    part = R.build_policy_part([('\\\\corp.example.test\\SysVol\\corp.example.test\\Policies\\{X}\\Machine\\Registry.pol',
                                 R.write(sample_entries()))])
    pd = P.decode(P.encode(_package(part)))
    theirs = odj_reference.ndrdump_fields(P.encode(pd))
    ours = odj_reference.codec_fields(pd)
    assert theirs == ours
    printed = [value for name, value in theirs if name == 'pValueData']
    assert printed == [entry.data.hex() for entry in sample_entries()]
    assert ('ulRootKeyId', 0x80000002) in theirs


def test_policy_part_refuses_a_bad_file_naming_it(tmp_path):
    bad = tmp_path / 'bad.pol'
    bad.write_bytes(b'PReg\x01\x00\x00\x00[\x00')
    with pytest.raises(R.RegPolError) as info:
        R.policy_part_from_files([str(bad)])
    assert str(bad) in str(info.value) and 'entry 1' in str(info.value)
    with pytest.raises(ValueError):
        R.build_policy_part([])
