# -*- coding: utf-8 -*-
"""The provisioning-package codec against real packages and Samba's ndrdump."""

import glob
import os
import random
import struct
import uuid

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import OdjFormatError, RawPayload
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts

import odj_reference
from test_odj_codec_support import assert_same_bytes

PASSWORD = 'Tr0ub4dor&3-not-a-real-secret-' + 'x' * 40
DOMAIN_GUID = uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2')
DOMAIN_SID = 'S-1-5-21-2720103478-3893655958-3880862394'
needs_ndrdump = pytest.mark.skipif(odj_reference.NDRDUMP is None, reason='ndrdump (Debian samba-testsuite) not installed')


def fixture_files(shared):
    files = sorted(glob.glob(os.path.join(shared, 'fixtures', 'odj', '*.djoin')))
    assert files, 'no packages in ../shared/fixtures/odj'
    return files


@pytest.fixture(scope='module')
def fixtures(shared_dir):
    return [(os.path.basename(f), open(f, 'rb').read()) for f in fixture_files(shared_dir)]


def built(extra_parts=(), **overrides):
    fields = dict(domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
                  domain_guid=DOMAIN_GUID, domain_sid=DOMAIN_SID, machine_name='WS-0042', machine_password=PASSWORD,
                  dc_name='dc1.corp.example.test', dc_address='127.0.0.1', dc_flags=0xe00013fd,
                  dc_site_name='Default-First-Site-Name', client_site_name='Branch-7', options=0x4, rid=1105)
    fields.update(overrides)
    return P.build_package(extra_parts=list(extra_parts), **fields)


def all_part_kinds():
    return [
        P.PackagePart(part_type=P.PART_JOINPROV2, flags=0, payload=P.JoinProv2Part(
            flags=1, netbios_name='WS-0042', site_name='Branch-7', primary_dns_domain='corp.example.test',
            reserved=0, reserved_str=None)),
        P.PackagePart(part_type=P.PART_JOINPROV4, flags=0, payload=P.JoinProv4Part(
            rid=1105, sid=DOMAIN_SID + '-1105', object_guid=uuid.UUID('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'))),
        P.PackagePart(part_type=P.PART_POLICY, flags=0, payload=P.PolicyPart(element_lists=[
            P.PolicyElementList(source='C:\\policies\\kiosk.pol', root_key_id=0x80000002, elements=[
                P.PolicyElement(key_path='Software\\Policies\\Microsoft\\Windows\\System', value_name='EnableSmartScreen',
                                value_type=4, data=struct.pack('<I', 1)),
                P.PolicyElement(key_path='Software\\Policies\\Kiosk', value_name='Banner', value_type=1,
                                data='Welcome\x00'.encode('utf-16-le')),
                P.PolicyElement(key_path='Software\\Policies\\Kiosk', value_name='Empty', value_type=3, data=b''),
                P.PolicyElement(key_path='Software\\Policies\\Kiosk', value_name='Blob', value_type=3,
                                data=bytes(range(256)) * 2)]),
            P.PolicyElementList(source='GPO Kiosk Baseline', root_key_id=0x80000002, elements=[])], extension=None)),
        P.PackagePart(part_type=P.PART_CERT, flags=0, payload=P.CertPart(
            pfx_stores=[P.CertPfxStore(template_name='Machine', private_key_export_policy=0, policy_server_url=None,
                                       policy_server_url_flags=0, policy_server_id=None, pfx=bytes(range(40)))],
            sst_stores=[P.CertSstStore(store_location=2, store_name='ROOT', sst=b'\x00SST' * 9)], extension=None)),
        P.PackagePart(part_type=uuid.UUID('12345678-9abc-def0-1234-56789abcdef0'), flags=0,
                      payload=RawPayload(b'opaque part kept as is'), extension=b'\x01\x02'),
    ]


# ---------------------------------------------------------------- real packages

def test_fixtures_round_trip_byte_for_byte(fixtures):
    for name, data in fixtures:
        assert T.detect_form(data) == T.FORM_DJOIN, name
        raw = T.to_raw(data)
        pd = P.decode(data)
        assert_same_bytes(P.encode(pd), raw, name)
        # every form renders back to the same bytes
        assert_same_bytes(T.to_djoin_file(P.encode(pd)), data, name)
        assert_same_bytes(P.encode(P.decode(T.to_base64(raw))), raw)
        assert_same_bytes(P.encode(P.decode(raw)), raw)


def test_fixture_fields(fixtures):
    by_name = dict((name, P.decode(data)) for name, data in fixtures)
    kiosk = by_name['samba-ou-kiosk07.djoin']
    w = kiosk.win7
    assert (w.domain, w.machine_name, w.options) == ('corp.example.test', 'KIOSK-07', 6)
    assert w.dns_domain_info.name == 'CORP'
    assert w.dns_domain_info.dns_forest_name == 'corp.example.test'
    assert w.dc_info.dc_name == '\\\\dc1.corp.example.test'
    assert w.dc_info.dc_address == '\\\\127.0.0.1'
    assert w.dc_info.dc_site_name == 'Default-First-Site-Name'
    assert [p.part_type for p in kiosk.parts] == [P.PART_WIN7BLOB, P.PART_JOINPROV3]
    assert [p.flags for p in kiosk.parts] == [1, 0]
    jp3 = kiosk.part(P.PART_JOINPROV3)
    assert jp3.sid == '%s-%d' % (w.dns_domain_info.sid, jp3.rid)
    # the essential part repeats the format-1 blob
    assert kiosk.part(P.PART_WIN7BLOB) == w
    # defpwd: the password is the machine name (Samba keeps the case given; Windows lower-cases it).
    # Compared into a bool first so a failure never prints the secret.
    lab = by_name['samba-defpwd-labpc12.djoin'].win7
    same = lab.machine_password.lower() == lab.machine_name.lower()
    assert same


@needs_ndrdump
def test_fixtures_agree_with_ndrdump(fixtures):
    for name, data in fixtures:
        raw = T.to_raw(data)
        assert odj_reference.ndrdump_fields(raw) == odj_reference.codec_fields(P.decode(raw)), name


# ---------------------------------------------------------------- building

def test_build_windows_shape_and_fields():
    pd = built()
    assert [b.format for b in pd.blobs] == [1, 2]
    assert [(p.part_type, p.flags) for p in pd.parts] == [(P.PART_WIN7BLOB, 1), (P.PART_JOINPROV3, 0)]
    raw = P.encode(pd)
    assert raw.startswith(b'\x01\x10\x08\x00\xcc\xcc\xcc\xcc')
    again = P.decode(raw)
    assert again == pd
    w = again.win7
    same = w.machine_password == PASSWORD
    assert same
    assert w.dc_info.dc_name == '\\\\dc1.corp.example.test' and w.dc_info.dc_address == '\\\\127.0.0.1'
    assert again.part(P.PART_JOINPROV3).sid == DOMAIN_SID + '-1105'
    assert_same_bytes(P.encode(again), raw)


@needs_ndrdump
@pytest.mark.parametrize('with_extra', [False, True], ids=['windows-shape', 'all-part-kinds'])
def test_built_package_printed_by_ndrdump_with_same_fields(with_extra):
    pd = built(all_part_kinds() if with_extra else ())
    raw = P.encode(pd)
    fields = odj_reference.ndrdump_fields(raw)
    assert fields == odj_reference.codec_fields(pd)
    values = dict(fields)
    assert values['lpMachineName'] == 'WS-0042'
    assert values['client_site_name'] == 'Branch-7'
    assert ('lpMachinePassword', odj_reference.SECRET) in fields
    if with_extra:
        assert ('pValueName', 'EnableSmartScreen') in fields
        assert ('pStoreName', 'ROOT') in fields


def test_all_part_kinds_round_trip_and_keep_unknown():
    pd = built(all_part_kinds())
    raw = P.encode(pd)
    again = P.decode(raw)
    assert again == pd
    unknown = again.parts[-1]
    assert unknown.type_name == 'unknown'
    assert isinstance(unknown.payload, RawPayload) and unknown.payload.data == b'opaque part kept as is'
    assert unknown.extension == b'\x01\x02'
    assert_same_bytes(P.encode(again), raw)


def test_unknown_blob_format_is_kept():
    pd = built()
    pd.blobs.append(P.OdjBlob(format=7, payload=RawPayload(b'future blob')))
    raw = P.encode(pd)
    again = P.decode(raw)
    assert again.blobs[2].format == 7 and again.blobs[2].payload.data == b'future blob'
    assert_same_bytes(P.encode(again), raw)


@pytest.mark.parametrize('field,value', [
    ('machine_name', ''), ('machine_password', None), ('domain_sid', 'not-a-sid'), ('dc_flags', -1),
    ('machine_name', 'bad\x00name'), ('options', 2 ** 32)])
def test_build_rejects_bad_fields(field, value):
    with pytest.raises(ValueError) as err:
        built(**{field: value})
    assert PASSWORD not in str(err.value)


def test_heap_like_referent_ids_are_accepted_and_kept():
    pd = built(all_part_kinds())
    rng = random.Random(7)
    raw = bytearray(P.encode(pd))
    again = P.decode(bytes(raw))
    # rewrite every referent id of the outer serialization with heap-like values
    layout = again._layout
    layout.refs = [rng.randrange(1, 2 ** 32) | 1 for dummy in layout.refs]
    layout.top_ref = 0x7FFE1230
    heapish = P.encode(again)
    assert heapish != bytes(raw)
    third = P.decode(heapish)
    assert third == pd
    assert third._layout.refs == layout.refs
    assert_same_bytes(P.encode(third), heapish)


# ---------------------------------------------------------------- forms

def test_forms_detect_and_convert():
    raw = P.encode(built())
    b64 = T.to_base64(raw)
    djoin = T.to_djoin_file(raw)
    # booleans first: a failing assert must not print package text (it holds the password)
    shaped = b64.startswith('ARAIAMzMzM') and '\n' not in b64
    assert shaped
    shaped = djoin[:2] == b'\xff\xfe' and djoin[-2:] == b'\x00\x00'
    assert shaped
    assert [T.detect_form(x) for x in (raw, b64, b64.encode(), djoin)] == ['raw', 'base64', 'base64', 'djoin_file']
    for form in (raw, b64, b64.encode(), djoin, '  %s\n' % b64):
        same = T.to_raw(form) == raw
        assert same
    # base64 of a djoin file (what ansible.builtin.slurp returns)
    import base64
    same = T.to_raw(base64.b64encode(djoin).decode()) == raw
    assert same
    same = T.render(raw, 'raw') == raw and T.render(raw, 'base64') == b64 and T.render(raw, 'djoin_file') == djoin
    assert same
    with pytest.raises(ValueError):
        T.render(raw, 'hex')


@pytest.mark.parametrize('data,needle', [
    (b'', 'empty'), ('ARAIAMzMzMz*', "'*' is not base64"), ('QUJD', 'does not decode to a provisioning package'),
    (b'\xff\xfeA\x00', 'does not end with a UTF-16 NUL'), (b'\xff\xfe\x00', 'odd length'),
    (b'\x80\x81\x82', 'neither a raw package'), ('ARAIAMzMzMz', 'multiple of 4')])
def test_form_errors(data, needle):
    with pytest.raises(OdjFormatError) as err:
        T.to_raw(data)
    assert needle in str(err.value)


# ---------------------------------------------------------------- strictness

def _error(raw):
    with pytest.raises(OdjFormatError) as err:
        P.decode(raw)
    return err.value


def test_every_truncation_is_rejected_with_an_offset(fixtures):
    raw = T.to_raw(fixtures[0][1])
    for cut in range(0, len(raw)):
        err = _error(raw[:cut])
        assert err.offset is not None and err.structure


def test_header_errors_name_offset_and_expectation():
    raw = bytearray(P.encode(built()))
    bad = bytearray(raw)
    bad[4] = 0
    err = _error(bytes(bad))
    assert err.offset == 4 and 'filler' in str(err) and 'cc cc cc cc' in err.expected
    bad = bytearray(raw)
    bad[8:12] = struct.pack('<I', len(raw) - 16 + 8)
    err = _error(bytes(bad))
    assert err.offset == 8 and 'body' in str(err)
    bad = bytearray(raw)
    bad[16:20] = b'\x00\x00\x00\x00'
    err = _error(bytes(bad))
    assert err.offset == 16 and 'NULL top-level pointer' in str(err)
    bad = bytearray(raw)
    bad[20:24] = struct.pack('<I', 2)
    err = _error(bytes(bad))
    assert 'version' in str(err)


def test_nested_errors_carry_absolute_offsets():
    raw = P.encode(built())
    inner = raw.index(b'\x01\x10\x08\x00\xcc\xcc\xcc\xcc', 16)
    bad = bytearray(raw)
    bad[inner + 5] = 0
    err = _error(bytes(bad))
    assert err.offset == inner + 4 and err.structure == 'Win7Blob'


def test_padding_and_conformance_are_checked():
    raw = bytearray(P.encode(built()))
    # the last byte of the outer body is padding when the body needed it; force one
    body_end = len(raw)
    pd = P.decode(bytes(raw))
    assert_same_bytes(P.encode(pd), bytes(raw))
    # corrupt the conformance of the blob array (first deferred u32 after the scalars)
    bad = bytearray(raw)
    bad[32:36] = struct.pack('<I', 3)
    err = _error(bytes(bad))
    assert 'conformance' in str(err) and err.offset == 32
    # trailing garbage beyond the 8-byte padding rule
    bad = bytearray(raw) + b'\x00' * 8
    bad[8:12] = struct.pack('<I', body_end - 16 + 8)
    err = _error(bytes(bad))
    assert 'left over' in str(err)


def test_unterminated_and_invalid_strings_are_rejected():
    raw = bytearray(P.encode(built(machine_name='ABCDEFG')))
    needle = 'ABCDEFG\x00'.encode('utf-16-le')
    at = raw.index(needle)
    bad = bytearray(raw)
    bad[at + len(needle) - 2:at + len(needle)] = b'Z\x00'
    err = _error(bytes(bad))
    assert 'NUL' in str(err)


# ---------------------------------------------------------------- encryption

def test_encrypted_package_envelope_only():
    pd = built()
    pkg = pd.package
    pkg.encryption_type = uuid.UUID('e5f1a0b2-0000-4000-8000-00000000beef')
    pkg.encryption_context = b'ctx'
    pkg.wrapped = RawPayload(b'\x13' * 64)
    pkg.decrypted_size = 900
    raw = P.encode(pd)
    again = P.decode(raw)
    assert again.package.encrypted
    assert_same_bytes(P.encode(again), raw)
    with pytest.raises(P.OdjEncryptedError) as err:
        again.package.parts
    assert 'e5f1a0b2-0000-4000-8000-00000000beef' in str(err.value)
    facts = package_facts(again)
    assert facts['encrypted'] and facts['encryption_type'] == 'e5f1a0b2-0000-4000-8000-00000000beef'
    assert facts['parts'] == [] and facts['machine_name'] == 'WS-0042'


# ---------------------------------------------------------------- secrets

def test_password_never_in_repr_or_facts():
    pd = built(all_part_kinds())
    assert PASSWORD not in repr(pd.win7) and PASSWORD not in repr(pd.parts[0])
    facts = package_facts(pd, 'raw')
    text = repr(facts)
    assert PASSWORD not in text
    assert facts['has_password'] is True
    assert facts['machine_rid'] == 1105 and facts['machine_sid'] == DOMAIN_SID + '-1105'
    assert facts['option_names'] == ['NETSETUP_PROVISION_USE_DEFAULT_PASSWORD']
    assert 'DS_WRITABLE_FLAG' in facts['dc']['flag_names']
    assert facts['certificate_templates'] == ['Machine']
    assert facts['policies'][0]['elements'][0] == {
        'key': 'Software\\Policies\\Microsoft\\Windows\\System', 'value_name': 'EnableSmartScreen', 'type': 4,
        'type_name': 'REG_DWORD', 'size': 4}
    assert facts['join_provider_2']['flag_names'] == ['OPSPI_PERSISTENT_SITE']
    assert [p['type'] for p in facts['parts']] == ['join_provider', 'join_provider_3', 'join_provider_2',
                                                   'join_provider_4', 'policies', 'certificates', 'unknown']


def test_errors_do_not_echo_the_password():
    raw = P.encode(built())
    needle = PASSWORD.encode('utf-16-le')
    at = raw.index(needle)
    for offset in range(at - 12, at + len(needle) + 4, 2):
        bad = bytearray(raw)
        bad[offset] ^= 0xFF
        try:
            P.decode(bytes(bad))
        except OdjFormatError as exc:
            assert PASSWORD[:12] not in str(exc)
