# -*- coding: utf-8 -*-
"""Serialized certificate stores (SST) and the OP_CERT_PART for root CA certificates.

Certificates are real ones made here with ``cryptography``; the store layout is
checked byte for byte against [MS-OSHARED] 2.3.9.1 / 2.3.2.5, and the package
part against Samba's ``ndrdump``.
"""

import hashlib
import struct
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import certstore as C
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts

import odj_reference
from test_certs_support import make_ca

needs_ndrdump = pytest.mark.skipif(odj_reference.NDRDUMP is None, reason='ndrdump (samba-testsuite) not installed')
PASSWORD = 'unit-test-password-' + 'c' * 30


@pytest.fixture(scope='module')
def cas():
    return [make_ca('Unit Root CA %d' % n, days=30) for n in range(3)]


def element(prop_id, value, encoding=1):
    return struct.pack('<III', prop_id, encoding, len(value)) + value


def test_layout_follows_ms_oshared(cas):
    sst = C.build_sst(cas[:2])
    expected = b'\x00\x00\x00\x00CERT'
    for der in cas[:2]:
        expected += element(3, hashlib.sha1(der).digest()) + element(0x20, der)
    expected += b'\x00' * 12
    assert sst == expected
    assert C.build_sst(cas[:1], with_hash_property=False) == b'\x00\x00\x00\x00CERT' + element(0x20, cas[0]) + b'\x00' * 12


def test_round_trip_gives_the_same_der_bytes(cas):
    sst = C.build_sst(cas)
    assert C.certificates_in(sst) == cas
    contexts = C.parse_sst(sst)
    assert [ctx.kind for ctx in contexts] == ['certificate'] * 3
    assert [ctx.properties for ctx in contexts] == [[(3, hashlib.sha1(der).digest())] for der in cas]
    # each certificate loads back as the same certificate
    for der in C.certificates_in(sst):
        assert x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.DER) == der


def test_duplicates_are_dropped_order_kept(cas):
    assert C.certificates_in(C.build_sst([cas[1], cas[0], cas[1]])) == [cas[1], cas[0]]


def test_empty_store_and_foreign_elements():
    assert C.parse_sst(b'\x00\x00\x00\x00CERT' + b'\x00' * 12) == []
    crl_like = b'\x30\x03\x02\x01\x01'
    data = (b'\x00\x00\x00\x00CERT' + element(11, 'friendly\x00'.encode('utf-16-le')) + element(0x21, crl_like)
            + b'\x00' * 12)
    contexts = C.parse_sst(data)
    assert contexts == [C.SstContext('crl', crl_like, [(11, 'friendly\x00'.encode('utf-16-le'))])]
    assert C.certificates_in(data) == []


@pytest.mark.parametrize('mutate, words, offset', [
    (lambda d: d[:5], 'shorter than its 8-byte header', 0),
    (lambda d: b'\x01' + d[1:], 'version is 1', 0),
    (lambda d: d[:4] + b'CRL ' + d[8:], "expected 0x54524543 ('CERT')", 4),
    (lambda d: d[:-12], 'ends without its end marker', None),
    (lambda d: d + b'\x00', '1 bytes after the end marker', None),
    (lambda d: d[:-12] + b'\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00', 'end marker must be 12 zero bytes', None),
    (lambda d: d[:12] + b'\x02' + d[13:], 'expected 1', 12),
    (lambda d: d[:16] + b'\xff\xff\x00\x00' + d[20:], 'only', 16),
])
def test_malformed_stores_are_refused(cas, mutate, words, offset):
    data = mutate(C.build_sst(cas[:1]))
    with pytest.raises(C.SstError) as info:
        C.parse_sst(data)
    assert words in str(info.value)
    if offset is not None:
        assert info.value.offset == offset and 'byte offset %d' % offset in str(info.value)


def test_property_without_a_context_and_non_der_certificate(cas):
    data = b'\x00\x00\x00\x00CERT' + element(3, b'x' * 20) + b'\x00' * 12
    with pytest.raises(C.SstError, match='property not followed'):
        C.parse_sst(data)
    data = b'\x00\x00\x00\x00CERT' + element(0x20, b'-----BEGIN CERTIFICATE-----') + b'\x00' * 12
    with pytest.raises(C.SstError, match='PEM') as info:
        C.parse_sst(data)
    assert info.value.element == 1 and info.value.offset == 20


def test_builder_refuses_what_is_not_a_der_certificate(cas):
    pem = x509.load_der_x509_certificate(cas[0]).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(C.SstError, match='PEM'):
        C.build_sst([pem])
    with pytest.raises(C.SstError, match='SEQUENCE says'):
        C.build_sst([cas[0] + b'\x00'])
    with pytest.raises(C.SstError, match='not an X.509 certificate'):
        C.build_sst([b'\x30\x03\x02\x01\x01'])


def _package(part):
    return P.build_package(domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
                           domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'),
                           domain_sid='S-1-5-21-2720103478-3893655958-3880862394', machine_name='WS01',
                           machine_password=PASSWORD, dc_name='dc1.corp.example.test', dc_address='127.0.0.1',
                           dc_flags=0xe00013fd, rid=1105, options=0x10, extra_parts=[part])


def test_root_ca_part_is_one_local_machine_root_store(cas):
    part = C.root_ca_cert_part(cas[:2])
    pd = P.decode(P.encode(_package(part)))
    cert = pd.part(P.PART_CERT)
    assert cert.pfx_stores == [] or cert.pfx_stores is None
    assert len(cert.sst_stores) == 1
    store = cert.sst_stores[0]
    assert (store.store_location, store.store_name) == (2, 'ROOT')
    assert C.certificates_in(store.sst) == cas[:2]
    facts = package_facts(pd)
    assert PASSWORD not in repr(facts)
    assert 'LOCAL_MACHINE' in repr(facts) and 'ROOT' in repr(facts)
    with pytest.raises(ValueError, match='no CA certificate'):
        C.root_ca_cert_part([])


@needs_ndrdump
def test_samba_ndrdump_decodes_the_cert_part(cas):
    pd = P.decode(P.encode(_package(C.root_ca_cert_part(cas[:1]))))
    theirs = odj_reference.ndrdump_fields(P.encode(pd))
    ours = odj_reference.codec_fields(pd)
    assert theirs == ours
    assert ('pSst', C.build_sst(cas[:1]).hex()) in theirs
    assert ('StoreLocation', 2) in theirs and ('pStoreName', 'ROOT') in theirs
    assert ('cbSst', len(C.build_sst(cas[:1]))) in theirs
