# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline domain join provisioning package: structures, decode, encode, build.

Layout (docs/docsite/rst/package_format.rst): ODJ_PROVISION_DATA holds ODJ_BLOBs; a format-1
blob is an ODJ_WIN7BLOB, a format-2 blob an OP_PACKAGE whose wrapped part
collection holds typed parts (join providers, certificates, policies). Each
blob, package, collection and part is a type-1 serialization of its own.

``decode(data)`` takes any of the three text/binary forms and returns a
:class:`ProvisionData`; ``encode(pd)`` returns raw bytes, identical to the
input for anything ``decode`` returned. Unknown blob formats and part types are
kept as :class:`RawPayload` and written back unchanged. A package whose
EncryptionType is not all zero is decoded down to its envelope; asking for its
parts raises :class:`OdjEncryptedError`.
"""

from __future__ import annotations

import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import (
    ARRAY, BYTES, EMBED, GUID, NESTED, SID, U32, USTR, WSTR,
    FIRST_REFERENT, OdjFormatError, RawPayload, decode_type1, encode_type1, sid_from_str,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.common.sid import split_rid
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw

PART_WIN7BLOB = uuid.UUID('631c7621-5289-4321-bc9e-80f843f868c3')
PART_JOINPROV2 = uuid.UUID('57bfc56b-52f9-480c-adcb-91b3f8a82317')
PART_JOINPROV3 = uuid.UUID('fc0ccf25-7ffa-474a-8611-69ffe269645f')
PART_JOINPROV4 = uuid.UUID('4a08716a-6710-4647-8211-fdbb0b03f60b')
PART_CERT = uuid.UUID('9c0971e9-832f-4873-8e87-ef1419d4781e')
PART_POLICY = uuid.UUID('68fb602a-0c09-48ce-b75f-07b7bd58f7ec')

ODJ_WIN7_FORMAT = 1
ODJ_WIN8_FORMAT = 2
PART_FLAG_ESSENTIAL = 1
NULL_GUID = uuid.UUID(int=0)


class OdjEncryptedError(OdjFormatError):
    """The package's part collection is encrypted; its parts cannot be decoded."""


class _Struct(object):
    """Plain value object built from SCHEMA; equality ignores the NDR layout."""

    SCHEMA = ()
    SECRET = ()

    def __init__(self, **kwargs):
        names = [f.attr for f in self.SCHEMA]
        for name in names:
            setattr(self, name, kwargs.pop(name, None))
        if kwargs:
            raise TypeError('%s has no field(s) %s' % (type(self).__name__, ', '.join(sorted(kwargs))))
        self._layout = None

    def __eq__(self, other):
        return type(other) is type(self) and all(
            getattr(self, f.attr) == getattr(other, f.attr) for f in self.SCHEMA)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        shown = []
        for field in self.SCHEMA:
            value = getattr(self, field.attr)
            if field.attr in self.SECRET and value is not None:
                value = '********'
            elif isinstance(value, bytes):
                value = '<%d bytes>' % len(value)
            shown.append('%s=%r' % (field.attr, value))
        return '%s(%s)' % (type(self).__name__, ', '.join(shown))


class DnsDomainInfo(_Struct):
    """ODJ_POLICY_DNS_DOMAIN_INFO."""

    SCHEMA = (USTR('name'), USTR('dns_domain_name'), USTR('dns_forest_name'), GUID('domain_guid'), SID('sid'))


class DcInfo(_Struct):
    """DOMAIN_CONTROLLER_INFOW."""

    SCHEMA = (WSTR('dc_name'), WSTR('dc_address'), U32('dc_address_type'), GUID('domain_guid'),
              WSTR('domain_name'), WSTR('dns_forest_name'), U32('flags'), WSTR('dc_site_name'),
              WSTR('client_site_name'))


class Win7Blob(_Struct):
    """ODJ_WIN7BLOB: the domain, the machine and its clear-text password."""

    SCHEMA = (WSTR('domain'), WSTR('machine_name'), WSTR('machine_password'),
              EMBED('dns_domain_info', DnsDomainInfo), EMBED('dc_info', DcInfo), U32('options'))
    SECRET = ('machine_password',)


class JoinProv2Part(_Struct):
    """OP_JOINPROV2_PART."""

    SCHEMA = (U32('flags'), WSTR('netbios_name'), WSTR('site_name'), WSTR('primary_dns_domain'),
              U32('reserved'), WSTR('reserved_str'))


class JoinProv3Part(_Struct):
    """OP_JOINPROV3_PART: the machine account's RID and SID."""

    SCHEMA = (U32('rid'), WSTR('sid'))


class JoinProv4Part(_Struct):
    """OP_JOINPROV4_PART (newer Windows): RID, SID and object GUID."""

    SCHEMA = (U32('rid'), WSTR('sid'), GUID('object_guid'))


class PolicyElement(_Struct):
    """OP_POLICY_ELEMENT: one registry value."""

    SCHEMA = (WSTR('key_path'), WSTR('value_name'), U32('value_type'), BYTES('data'))


class PolicyElementList(_Struct):
    """OP_POLICY_ELEMENT_LIST: the values of one source (policy file or GPO)."""

    SCHEMA = (WSTR('source'), U32('root_key_id'), ARRAY('elements', PolicyElement))


class PolicyPart(_Struct):
    """OP_POLICY_PART."""

    SCHEMA = (ARRAY('element_lists', PolicyElementList), BYTES('extension'))


class CertPfxStore(_Struct):
    """OP_CERT_PFX_STORE."""

    SCHEMA = (WSTR('template_name'), U32('private_key_export_policy'), WSTR('policy_server_url'),
              U32('policy_server_url_flags'), WSTR('policy_server_id'), BYTES('pfx'))
    SECRET = ('pfx',)


class CertSstStore(_Struct):
    """OP_CERT_SST_STORE."""

    SCHEMA = (U32('store_location'), WSTR('store_name'), BYTES('sst'))


class CertPart(_Struct):
    """OP_CERT_PART."""

    SCHEMA = (ARRAY('pfx_stores', CertPfxStore), ARRAY('sst_stores', CertSstStore), BYTES('extension'))


PART_CLASSES = {
    PART_WIN7BLOB: Win7Blob,
    PART_JOINPROV2: JoinProv2Part,
    PART_JOINPROV3: JoinProv3Part,
    PART_JOINPROV4: JoinProv4Part,
    PART_CERT: CertPart,
    PART_POLICY: PolicyPart,
}

PART_NAMES = {
    PART_WIN7BLOB: 'join_provider',
    PART_JOINPROV2: 'join_provider_2',
    PART_JOINPROV3: 'join_provider_3',
    PART_JOINPROV4: 'join_provider_4',
    PART_CERT: 'certificates',
    PART_POLICY: 'policies',
}


class PackagePart(_Struct):
    """OP_PACKAGE_PART: a typed part; payload is decoded when the type is known."""

    SCHEMA = (GUID('part_type'), U32('flags'), NESTED('payload', lambda part: PART_CLASSES.get(part.part_type)),
              BYTES('extension'))

    def __init__(self, **kwargs):
        super(PackagePart, self).__init__(**kwargs)
        if self.part_type is not None and not isinstance(self.part_type, uuid.UUID):
            self.part_type = uuid.UUID(str(self.part_type))

    @property
    def type_name(self):
        return PART_NAMES.get(self.part_type, 'unknown')

    @property
    def essential(self):
        return bool((self.flags or 0) & PART_FLAG_ESSENTIAL)


class PartCollection(_Struct):
    """OP_PACKAGE_PART_COLLECTION."""

    SCHEMA = (ARRAY('parts', PackagePart), BYTES('extension'))


class OpPackage(_Struct):
    """OP_PACKAGE: the (possibly encrypted) envelope of the part collection."""

    SCHEMA = (GUID('encryption_type'), BYTES('encryption_context'),
              NESTED('wrapped', lambda pkg: PartCollection if pkg.encryption_type == NULL_GUID else None),
              U32('decrypted_size'), BYTES('extension'))

    @property
    def encrypted(self):
        return self.encryption_type is not None and self.encryption_type != NULL_GUID

    @property
    def parts(self):
        if self.encrypted:
            raise OdjEncryptedError('the part collection is encrypted with type %s; its parts cannot be decoded'
                                    % self.encryption_type, None, 'OP_PACKAGE', 'EncryptionType all zero')
        if self.wrapped is None:
            return []
        return self.wrapped.parts or []


class OdjBlob(_Struct):
    """ODJ_BLOB: format 1 holds a Win7Blob, format 2 an OpPackage."""

    FORMATS = {ODJ_WIN7_FORMAT: Win7Blob, ODJ_WIN8_FORMAT: OpPackage}
    SCHEMA = (U32('format'), NESTED('payload', lambda blob: OdjBlob.FORMATS.get(blob.format)))


class ProvisionData(_Struct):
    """ODJ_PROVISION_DATA: the whole package."""

    SCHEMA = (U32('version'), ARRAY('blobs', OdjBlob))

    def validate(self):
        if self.version != 1:
            raise ValueError('ODJ_PROVISION_DATA version %r is not 1' % self.version)

    @property
    def package(self):
        """The first format-2 OpPackage, or None."""
        for blob in self.blobs or []:
            if blob.format == ODJ_WIN8_FORMAT and isinstance(blob.payload, OpPackage):
                return blob.payload
        return None

    @property
    def parts(self):
        package = self.package
        return package.parts if package is not None else []

    def part(self, part_type):
        """The payload of the first part of that type, or None."""
        package = self.package
        if package is None or package.encrypted:
            return None
        for item in package.parts:
            if item.part_type == part_type:
                return item.payload
        return None

    @property
    def win7(self):
        """The ODJ_WIN7BLOB: from the format-1 blob, else from the package's join part."""
        for blob in self.blobs or []:
            if blob.format == ODJ_WIN7_FORMAT and isinstance(blob.payload, Win7Blob):
                return blob.payload
        found = self.part(PART_WIN7BLOB)
        if isinstance(found, Win7Blob):
            return found
        raise OdjFormatError('the package holds no ODJ_WIN7BLOB (no format-1 blob and no join provider part)',
                             None, 'ODJ_PROVISION_DATA', 'a domain join blob')


def decode(data):
    """Decode a package in any form into ProvisionData (OdjFormatError if malformed)."""
    raw = to_raw(data)
    return decode_type1(raw, ProvisionData)


def _copies_differ(first, second):
    """Name of the first field where two ODJ_WIN7BLOBs differ, or None (layout ignored)."""
    for field in Win7Blob.SCHEMA:
        a, b = getattr(first, field.attr), getattr(second, field.attr)
        if a != b:
            return field.attr
    return None


def _check_layout(obj, seen):
    """Every NDR serialization inside obj: referent ids 0x20000 + 4n in order, string max count = actual count."""
    layout = getattr(obj, '_layout', None)
    if layout is not None and id(obj) not in seen:
        seen.add(id(obj))
        counted = [ref for ref in layout.refs if ref != 0xFFFFFFFF]
        if layout.top_ref != FIRST_REFERENT or any(ref % 4 for ref in counted) \
                or any(b <= a for a, b in zip([FIRST_REFERENT] + counted, counted)):
            raise OdjFormatError('pointer referent ids are not the sequence an NDR writer produces', None,
                                 type(obj).__name__, 'referent ids 0x00020000, 0x00020004, ... increasing')
    for field in getattr(obj, 'SCHEMA', ()):
        value = getattr(obj, field.attr, None)
        if isinstance(value, list):
            for item in value:
                _check_layout(item, seen)
        elif isinstance(value, _Struct):
            _check_layout(value, seen)


def check(pd):
    """Cross-check a decoded package beyond the NDR rules; OdjFormatError naming the first inconsistency.

    Damage that still decodes is refused: the join data is carried twice (the format-1 ODJ_WIN7BLOB and the join
    provider part of the format-2 package) and both copies must agree; the join provider part must be there and
    essential; part flags hold only known bits; the machine SID of a join provider 3/4 part is in the package's
    domain and ends with its RID; the two copies of the domain GUID agree; every string's maximum count equals its
    length, and referent ids are in the order NDR writers produce. The message names structures and fields, never
    their content.
    """
    win7 = pd.win7
    if not win7.machine_name or win7.dns_domain_info is None or not win7.dns_domain_info.dns_domain_name \
            or win7.dc_info is None:
        raise OdjFormatError('the domain join blob names no machine, domain or domain controller', None,
                             'ODJ_WIN7BLOB', 'MachineName, DnsDomainInfo and DcInfo')
    formats = [blob.format for blob in pd.blobs or []]
    if len(set(formats)) != len(formats):
        raise OdjFormatError('the package holds two blobs of the same format', None, 'ODJ_PROVISION_DATA',
                             'one blob per format')
    package = pd.package
    first = next((b.payload for b in pd.blobs or [] if b.format == ODJ_WIN7_FORMAT), None)
    if package is not None and not package.encrypted:
        # an encrypted part collection cannot be cross-checked; whoever needs its parts gets OdjEncryptedError
        parts = package.parts
        joins = [p for p in parts if p.part_type == PART_WIN7BLOB]
        if len(joins) != 1:
            raise OdjFormatError('%d join provider parts' % len(joins), None, 'OP_PACKAGE_PART_COLLECTION',
                                 'exactly one join provider part')
        for index, part in enumerate(parts, 1):
            if (part.flags or 0) & ~PART_FLAG_ESSENTIAL:
                raise OdjFormatError('part %d has unknown flags 0x%x' % (index, part.flags), None, 'OP_PACKAGE_PART',
                                     'flags 0 or 1 (essential)')
            if part.part_type in (PART_JOINPROV3, PART_JOINPROV4) and isinstance(part.payload, _Struct):
                sid, rid = part.payload.sid, part.payload.rid
                domain_sid = win7.dns_domain_info.sid
                try:
                    machine_domain, machine_rid = split_rid(sid)
                except ValueError:
                    machine_domain = machine_rid = None
                if machine_rid is None or machine_rid != rid or (domain_sid and machine_domain != domain_sid):
                    raise OdjFormatError('part %d (%s): the machine SID does not end with the RID or is not in the '
                                         "package's domain" % (index, part.type_name), None, 'OP_JOINPROV3_PART',
                                         'Sid = domain SID + RID')
        if not joins[0].essential:
            raise OdjFormatError('the join provider part is not marked essential', None, 'OP_PACKAGE_PART',
                                 'flags 1 (essential)')
        if not isinstance(joins[0].payload, Win7Blob):
            raise OdjFormatError('the join provider part does not hold a domain join blob', None, 'OP_PACKAGE_PART',
                                 'an ODJ_WIN7BLOB')
        if first is not None:
            field = _copies_differ(first, joins[0].payload)
            layouts = [getattr(copy, '_layout', None) for copy in (first, joins[0].payload)]
            if field is None and None not in layouts and \
                    (layouts[0].refs, layouts[0].wstr_max) != (layouts[1].refs, layouts[1].wstr_max):
                field = 'their NDR layout'
            if field is not None:
                raise OdjFormatError('the two copies of the join data disagree in %s (the package is damaged)'
                                     % field, None, 'ODJ_WIN7BLOB', 'the format-1 blob and the join provider part to '
                                     'be identical')
    copies = [first] + [p.payload for p in (pd.parts if package is not None and not package.encrypted else [])]
    for blob in (b for b in copies if isinstance(b, Win7Blob)):
        info, dc = blob.dns_domain_info, blob.dc_info
        if info is not None and dc is not None and dc.domain_guid not in (None, NULL_GUID) \
                and info.domain_guid != dc.domain_guid:
            raise OdjFormatError('the domain GUID of the domain and of its domain controller disagree', None,
                                 'ODJ_WIN7BLOB', 'the same domain GUID in DnsDomainInfo and DcInfo')
    _check_layout(pd, set())
    _check_strings(pd)
    return pd


def _check_strings(obj):
    layout = getattr(obj, '_layout', None)
    if layout is not None and any(m != a for m, a in zip(layout.wstr_max, getattr(layout, 'wstr_actual', ()))):
        raise OdjFormatError('a string\'s maximum count differs from its length', None, type(obj).__name__,
                             'max count = actual count, as NDR writers produce for [string] pointers')
    for field in getattr(obj, 'SCHEMA', ()):
        value = getattr(obj, field.attr, None)
        for item in (value if isinstance(value, list) else [value]):
            if isinstance(item, _Struct):
                _check_strings(item)


def encode(pd):
    """Encode ProvisionData to raw bytes."""
    return encode_type1(pd)


def _check_text(name, value, required=True):
    if value is None or value == '':
        if required:
            raise ValueError('%s is required to build a provisioning package' % name)
        return None
    if not isinstance(value, str):
        raise ValueError('%s must be a string' % name)
    if '\x00' in value:
        raise ValueError('%s must not contain a NUL character' % name)
    return value


def build_package(domain_dns, netbios_domain, forest, domain_guid, domain_sid, machine_name, machine_password,
                  dc_name, dc_address, dc_flags, dc_site_name=None, client_site_name=None, dc_address_type=1,
                  options=0, rid=None, machine_sid=None, extra_parts=(), join_provider_4=False, object_guid=None):
    """Build a package in Windows' shape from fields.

    Two blobs: a format-1 ODJ_WIN7BLOB, and a format-2 OP_PACKAGE holding the
    same blob as an essential join provider part, a join provider 3 part (RID
    and SID; join provider 4 too when ``join_provider_4``), then extra_parts.
    Raises ValueError naming a missing or malformed field.
    """
    for name, value in (('domain_dns', domain_dns), ('netbios_domain', netbios_domain), ('forest', forest),
                        ('machine_name', machine_name), ('machine_password', machine_password),
                        ('dc_name', dc_name), ('dc_address', dc_address)):
        _check_text(name, value)
    _check_text('dc_site_name', dc_site_name, False)
    _check_text('client_site_name', client_site_name, False)
    guid = domain_guid if isinstance(domain_guid, uuid.UUID) else uuid.UUID(str(domain_guid))
    sid_from_str(domain_sid)
    if machine_sid is None and rid is not None:
        machine_sid = '%s-%d' % (domain_sid, rid)
    if machine_sid is not None:
        sid_from_str(machine_sid)
        if rid is None:
            rid = split_rid(machine_sid)[1]
    for name, value in (('dc_flags', dc_flags), ('options', options), ('dc_address_type', dc_address_type)):
        if not isinstance(value, int) or not 0 <= value < 2 ** 32:
            raise ValueError('%s must be a 32-bit unsigned integer' % name)
    if not dc_name.startswith('\\\\'):
        dc_name = '\\\\' + dc_name
    if not dc_address.startswith('\\\\'):
        dc_address = '\\\\' + dc_address

    def win7():
        return Win7Blob(
            domain=domain_dns, machine_name=machine_name, machine_password=machine_password,
            dns_domain_info=DnsDomainInfo(name=netbios_domain, dns_domain_name=domain_dns, dns_forest_name=forest,
                                          domain_guid=guid, sid=domain_sid),
            dc_info=DcInfo(dc_name=dc_name, dc_address=dc_address, dc_address_type=dc_address_type, domain_guid=guid,
                           domain_name=domain_dns, dns_forest_name=forest, flags=dc_flags, dc_site_name=dc_site_name,
                           client_site_name=client_site_name),
            options=options)

    parts = [PackagePart(part_type=PART_WIN7BLOB, flags=PART_FLAG_ESSENTIAL, payload=win7())]
    if rid is not None:
        parts.append(PackagePart(part_type=PART_JOINPROV3, flags=0, payload=JoinProv3Part(rid=rid, sid=machine_sid)))
        if join_provider_4:
            parts.append(PackagePart(part_type=PART_JOINPROV4, flags=0,
                                     payload=JoinProv4Part(rid=rid, sid=machine_sid,
                                                           object_guid=object_guid or NULL_GUID)))
    for extra in extra_parts:
        if not isinstance(extra, PackagePart):
            raise ValueError('extra_parts must hold PackagePart objects')
        parts.append(extra)
    collection = PartCollection(parts=parts, extension=None)
    package = OpPackage(encryption_type=NULL_GUID, encryption_context=None, wrapped=collection, decrypted_size=0,
                        extension=None)
    pd = ProvisionData(version=1, blobs=[OdjBlob(format=ODJ_WIN7_FORMAT, payload=win7()),
                                         OdjBlob(format=ODJ_WIN8_FORMAT, payload=package)])
    return pd


__all__ = [
    'OdjFormatError', 'OdjEncryptedError', 'RawPayload', 'decode', 'encode', 'check', 'build_package',
    'ProvisionData', 'OdjBlob', 'OpPackage', 'PartCollection', 'PackagePart', 'Win7Blob', 'DnsDomainInfo', 'DcInfo',
    'JoinProv2Part', 'JoinProv3Part', 'JoinProv4Part', 'PolicyPart', 'PolicyElementList', 'PolicyElement',
    'CertPart', 'CertPfxStore', 'CertSstStore', 'PART_WIN7BLOB', 'PART_JOINPROV2', 'PART_JOINPROV3',
    'PART_JOINPROV4', 'PART_CERT', 'PART_POLICY', 'PART_CLASSES', 'PART_NAMES', 'NULL_GUID',
]
