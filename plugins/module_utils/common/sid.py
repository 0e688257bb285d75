# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security identifiers: the text form ``S-R-A-s1-...`` and the binary form (MS-DTYP 2.4.2).

Binary: revision (1 byte), sub-authority count (1 byte), identifier authority
(6 bytes, big-endian), sub-authorities (4 bytes each, little-endian). The text
form writes an authority of 2**32 or more in hex (``0x...``), as Windows does.
"""

from __future__ import annotations

import struct

MAX_SUB_AUTHORITIES = 15


def format_sid(revision, authority, subs):
    """'S-R-A-s1-...' of the parts."""
    auth = '0x%012X' % authority if authority >= 2 ** 32 else '%d' % authority
    return 'S-%d-%s%s' % (revision, auth, ''.join('-%d' % s for s in subs))


def parse_sid(text):
    """(revision, authority, [subs]) of ``S-R-A-s1-s2...``; ValueError naming the text when it is no SID."""
    parts = str(text).strip().split('-')
    if len(parts) < 3 or parts[0].upper() != 'S':
        raise ValueError('not a SID string: %r' % (text,))
    try:
        revision = int(parts[1])
        authority = int(parts[2], 16) if parts[2].lower().startswith('0x') else int(parts[2])
        subs = [int(p) for p in parts[3:]]
    except ValueError:
        raise ValueError('not a SID string: %r' % (text,))
    if not 0 <= revision <= 255 or not 0 <= authority < 2 ** 48 or len(subs) > MAX_SUB_AUTHORITIES \
            or any(not 0 <= s < 2 ** 32 for s in subs):
        raise ValueError('SID out of range: %r' % (text,))
    return revision, authority, subs


def split_rid(sid):
    """(domain SID, RID) of an account's SID in text form; ValueError when it is no SID or has no sub-authority."""
    revision, authority, subs = parse_sid(sid)
    if not subs:
        raise ValueError('SID without a relative identifier: %r' % (sid,))
    return format_sid(revision, authority, subs[:-1]), subs[-1]


def sid_from_bytes(raw):
    """Text form of a binary SID; ValueError when the bytes are too short or their length disagrees with the count."""
    raw = bytes(raw)
    if len(raw) < 8:
        raise ValueError('malformed SID value')
    count = raw[1]
    if len(raw) < 8 + 4 * count:
        raise ValueError('malformed SID value (length)')
    subs = struct.unpack_from('<%dI' % count, raw, 8)
    return format_sid(raw[0], int.from_bytes(raw[2:8], 'big'), subs)


def sid_to_bytes(sid):
    """Binary form of a SID given as text."""
    revision, authority, subs = parse_sid(sid)
    return bytes([revision, len(subs)]) + authority.to_bytes(6, 'big') + struct.pack('<%dI' % len(subs), *subs)
