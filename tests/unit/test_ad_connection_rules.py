# -*- coding: utf-8 -*-
"""The connection's pure rules: bare user names, certificate name matching, the channel binding value."""

import datetime
import hashlib
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.options import qualify_user
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.tls import certificate_names, end_point_binding, name_matches


@pytest.mark.parametrize('given, expected', [
    ('Administrator', 'Administrator@CORP.EXAMPLE.TEST'),
    ('svc-odj@corp.example.test', 'svc-odj@corp.example.test'),
    ('CORP\\svc-odj', 'CORP\\svc-odj'),
    ('CN=svc,OU=x,DC=corp,DC=example,DC=test', 'CN=svc,OU=x,DC=corp,DC=example,DC=test'),
    (None, None),
])
def test_bare_user_names_are_qualified_with_the_domain(given, expected):
    assert qualify_user(given, 'corp.example.test.') == expected


def _certificate(names, addresses, common, algorithm):
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    alternatives = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    if alternatives:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.DER)


def test_names_of_a_certificate_and_matching():
    der = _certificate(['dc1.corp.example.test', '*.dcs.corp.example.test'], ['10.0.0.10'], 'dc1', hashes.SHA256())
    dns_names, addresses, common, issuer, self_signed = certificate_names(der)
    assert dns_names == ['dc1.corp.example.test', '*.dcs.corp.example.test'] and addresses == ['10.0.0.10']
    assert common == ['dc1'] and issuer == 'CN=dc1' and self_signed
    assert name_matches('DC1.corp.example.test.', dns_names, addresses, common)
    assert name_matches('dc7.dcs.corp.example.test', dns_names, addresses, common)
    assert not name_matches('a.b.dcs.corp.example.test', dns_names, addresses, common)
    assert name_matches('10.0.0.10', dns_names, addresses, common)
    assert not name_matches('10.0.0.11', dns_names, addresses, common)
    assert not name_matches('dc1', dns_names, addresses, common)  # the CN counts only without DNS names


def test_common_name_counts_without_subject_alternative_names():
    der = _certificate([], [], 'DC1.corp.example.test', hashes.SHA256())
    dns_names, addresses, common, _issuer, _self = certificate_names(der)
    assert name_matches('dc1.corp.example.test', dns_names, addresses, common)
    assert not name_matches('127.0.0.1', dns_names, addresses, common)


@pytest.mark.parametrize('algorithm, digest', [(hashes.SHA256(), hashlib.sha256), (hashes.SHA384(), hashlib.sha384),
                                               (hashes.SHA512(), hashlib.sha512)])
def test_tls_server_end_point_uses_the_signature_hash(algorithm, digest):
    der = _certificate(['dc1.corp.example.test'], [], 'dc1', algorithm)
    assert end_point_binding(der) == b'tls-server-end-point:' + digest(der).digest()
