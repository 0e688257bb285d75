# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDAP attribute values and names as AD writes them: filter escaping, DNs and DNS names, SIDs, GUIDs, raw values.

Search results carry every value as bytes (``Pipeline`` leaves decoding to the
caller); ``text_value`` and ``int_value`` read them. Filter values are escaped by
ldap3's ``escape_filter_chars`` (RFC 4515).
"""

from __future__ import annotations

import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.common.sid import sid_from_bytes

try:
    from ldap3.utils.conv import escape_filter_chars
except ImportError:  # pragma: no cover - connection.HAS_LDAP3 reports it before any search
    escape_filter_chars = None


def filter_value(value):
    """A text value escaped for an LDAP filter (RFC 4515)."""
    return escape_filter_chars(value)


def filter_bytes(data):
    """A binary value escaped for an LDAP filter: every byte as ``\\xx``."""
    return ''.join('\\%02x' % b for b in data)


def guid_from_bytes(raw):
    """objectGUID (Windows byte order) -> uuid.UUID."""
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 16:
        raise ADError('malformed GUID value', 'protocol')
    return uuid.UUID(bytes_le=bytes(raw))


def object_sid(raw):
    """objectSid (binary, MS-DTYP 2.4.2) -> 'S-1-5-21-...' (``common.sid``); ADError protocol when malformed."""
    try:
        return sid_from_bytes(raw)
    except (TypeError, ValueError) as exc:
        raise ADError('malformed SID value from the DC (%s)' % exc, 'protocol')


def dn_to_dns(dn):
    """'DC=corp,DC=example,DC=test' -> 'corp.example.test'."""
    return '.'.join(part.split('=', 1)[1] for part in dn.split(',') if part.strip().lower().startswith('dc='))


def escape_dn_value(value):
    """An RDN value escaped for a DN (RFC 4514)."""
    out = []
    for index, char in enumerate(value):
        if char in ',+"\\<>;=#' and not (char == '#' and index > 0):
            out.append('\\' + char)
        else:
            out.append(char)
    return ''.join(out)


def text_value(value):
    """A raw attribute value as text."""
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def int_value(values):
    """First value of an integer attribute (None when absent)."""
    return int(text_value(values[0])) if values else None
