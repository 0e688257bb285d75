# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serialized certificate stores (SST) and the package's OP_CERT_PART.

The format is CryptoAPI's ``CERT_STORE_PROV_SERIALIZED`` / ``CertSaveStore``
with ``CERT_STORE_SAVE_AS_STORE`` (what ``.sst`` files hold), specified in
[MS-OSHARED] 2.3.9.1 DocSigSerializedCertStore and 2.3.2.5.x::

    u32 version 0; u32 file type 0x54524543 ('CERT')
    then for each certificate: zero or more property elements, then the
    certificate element; each element is
        u32 id; u32 encoding type (1); u32 length; length bytes
    (id 0x20 = the DER certificate, 0x21 a CRL, 0x22 a CTL, any other id
    a property of the context that follows)
    then the end marker: 12 zero bytes (id 0, 8 zero bytes).

``build_sst`` writes, for each DER certificate, its SHA-1 hash property
(CERT_SHA1_HASH_PROP_ID 3, the property Windows itself keys stores by) and the
certificate element. ``parse_sst`` reads any such store strictly.

In OP_CERT_SST_STORE, ``StoreLocation`` is an identifier from Windows'
"System Store Locations": CERT_SYSTEM_STORE_LOCAL_MACHINE_ID = 2 (the
``CERT_SYSTEM_STORE_LOCAL_MACHINE`` flag is that id shifted left by
CERT_SYSTEM_STORE_LOCATION_SHIFT = 16); the root CA certificates a domain
publishes go to the local machine's ``ROOT`` store.
"""

from __future__ import annotations

import collections
import hashlib
import struct

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_CERT,
    CertPart,
    CertSstStore,
    PackagePart,
)

SST_VERSION = 0
SST_FILE_TYPE = 0x54524543  # 'CERT' read as a little-endian u32
HEADER = struct.pack('<II', SST_VERSION, SST_FILE_TYPE)
END_MARKER = b'\x00' * 12
X509_ASN_ENCODING = 1

CERT_SHA1_HASH_PROP_ID = 3
CERT_CERT_PROP_ID = 0x20
CERT_CRL_PROP_ID = 0x21
CERT_CTL_PROP_ID = 0x22
CONTEXT_IDS = {CERT_CERT_PROP_ID: 'certificate', CERT_CRL_PROP_ID: 'crl', CERT_CTL_PROP_ID: 'ctl'}

# System store location ids (wincrypt.h CERT_SYSTEM_STORE_*_ID)
CERT_SYSTEM_STORE_CURRENT_USER_ID = 1
CERT_SYSTEM_STORE_LOCAL_MACHINE_ID = 2
ROOT_STORE_NAME = 'ROOT'

SstContext = collections.namedtuple('SstContext', ['kind', 'encoded', 'properties'])
SstContext.__doc__ = """One context of a serialized store: kind ('certificate', 'crl', 'ctl'),
encoded (DER bytes), properties (list of (property id, bytes) in file order)."""


class SstError(ValueError):
    """A serialized certificate store is malformed, or a certificate is not DER."""

    def __init__(self, message, offset=None, element=None):
        self.reason = message
        self.offset = offset
        self.element = element
        where = []
        if element is not None:
            where.append('element %d' % element)
        if offset is not None:
            where.append('byte offset %d (0x%x)' % (offset, offset))
        super(SstError, self).__init__(('%s: %s' % (', '.join(where), message)) if where else message)


def _der_length(data, pos):
    """(length, position after the length octets) of a DER length at pos; SstError when malformed."""
    if pos >= len(data):
        raise SstError('DER length missing')
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(data):
        raise SstError('DER length octets are malformed')
    value = int.from_bytes(data[pos + 1:pos + 1 + count], 'big')
    if value < 0x80 or data[pos + 1] == 0:
        raise SstError('DER length is not in its shortest form')
    return value, pos + 1 + count


def check_der_certificate(der):
    """Raise SstError unless der is one complete DER SEQUENCE (the outer shape of an X.509 certificate).

    The full certificate is checked with ``cryptography`` when it is installed.
    """
    if not isinstance(der, (bytes, bytearray)) or len(der) < 2:
        raise SstError('a certificate must be DER bytes')
    der = bytes(der)
    if der[0] != 0x30:
        raise SstError('a DER certificate starts with a SEQUENCE (0x30), found 0x%02x (PEM text?)' % der[0])
    length, body = _der_length(der, 1)
    if body + length != len(der):
        raise SstError('the DER certificate is %d bytes but its SEQUENCE says %d' % (len(der), body + length))
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - optional deeper check
        return der
    try:
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise SstError('not an X.509 certificate: %s' % exc)
    return der


def _element(prop_id, value):
    return struct.pack('<III', prop_id, X509_ASN_ENCODING, len(value)) + value


def build_sst(certificates, with_hash_property=True):
    """A serialized store holding the given DER certificates (duplicates dropped, order kept)."""
    out = bytearray(HEADER)
    seen = set()
    for der in certificates:
        der = check_der_certificate(der)
        if der in seen:
            continue
        seen.add(der)
        if with_hash_property:
            out += _element(CERT_SHA1_HASH_PROP_ID, hashlib.sha1(der).digest())  # nosec - the store's key, not security
        out += _element(CERT_CERT_PROP_ID, der)
    out += END_MARKER
    return bytes(out)


def parse_sst(data):
    """The contexts of a serialized store, in order (list of SstContext).

    Strict: the header, every element header and length, the encoding type
    (must be 1 except in the end marker), properties only before a context, the
    12-byte end marker and nothing after it.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SstError('a serialized store is bytes')
    data = bytes(data)
    if len(data) < 8:
        raise SstError('the store is %d bytes long, shorter than its 8-byte header' % len(data), 0)
    version, file_type = struct.unpack_from('<II', data, 0)
    if version != SST_VERSION:
        raise SstError('version is %d, expected 0' % version, 0)
    if file_type != SST_FILE_TYPE:
        raise SstError("file type is 0x%08x, expected 0x54524543 ('CERT')" % file_type, 4)
    pos = 8
    contexts = []
    properties = []
    number = 0
    while True:
        number += 1
        if pos + 12 > len(data):
            raise SstError('the store ends without its end marker', pos, number)
        prop_id, encoding, length = struct.unpack_from('<III', data, pos)
        if prop_id == 0:
            if encoding != 0 or length != 0:
                raise SstError('the end marker must be 12 zero bytes', pos, number)
            if properties:
                raise SstError('%d propert%s not followed by a certificate, CRL or CTL'
                               % (len(properties), 'y' if len(properties) == 1 else 'ies'), pos, number)
            pos += 12
            break
        if encoding != X509_ASN_ENCODING:
            raise SstError('encoding type of element id %d is %d, expected 1' % (prop_id, encoding), pos + 4, number)
        if pos + 12 + length > len(data):
            raise SstError('element id %d says %d bytes but only %d remain' % (prop_id, length, len(data) - pos - 12),
                           pos + 8, number)
        value = data[pos + 12:pos + 12 + length]
        if prop_id in CONTEXT_IDS:
            if prop_id == CERT_CERT_PROP_ID:
                try:
                    check_der_certificate(value)
                except SstError as exc:
                    raise SstError(exc.reason, pos + 12, number)
            contexts.append(SstContext(CONTEXT_IDS[prop_id], value, properties))
            properties = []
        else:
            properties.append((prop_id, value))
        pos += 12 + length
    if pos != len(data):
        raise SstError('%d bytes after the end marker' % (len(data) - pos), pos)
    return contexts


def certificates_in(data):
    """The DER certificates of a serialized store, in order."""
    return [context.encoded for context in parse_sst(data) if context.kind == 'certificate']


def root_ca_cert_part(certificates, store_name=ROOT_STORE_NAME, store_location=CERT_SYSTEM_STORE_LOCAL_MACHINE_ID):
    """A PackagePart (OP_CERT_PART) with one SST store: LocalMachine ROOT holding the certificates.

    ValueError when there is no certificate (NETSETUP_PROVISION_ROOT_CA_CERTS
    with a domain that publishes none is reported by the caller).
    """
    certificates = list(certificates)
    if not certificates:
        raise ValueError('no CA certificate to put in the package')
    sst = build_sst(certificates)
    store = CertSstStore(store_location=store_location, store_name=store_name, sst=sst)
    return PackagePart(part_type=PART_CERT, flags=0,
                       payload=CertPart(pfx_stores=[], sst_stores=[store], extension=None))


__all__ = [
    'SstError', 'SstContext', 'build_sst', 'parse_sst', 'certificates_in', 'check_der_certificate',
    'root_ca_cert_part', 'CERT_SYSTEM_STORE_LOCAL_MACHINE_ID', 'ROOT_STORE_NAME', 'SST_FILE_TYPE',
]
