# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three forms a provisioning package travels in, detected automatically.

- ``raw``: the NDR bytes (what NetRequestOfflineDomainJoin takes);
- ``base64``: one line of base64 of the raw bytes (API text output,
  ``djoin /printblob``, unattend ``AccountData``);
- ``djoin_file``: what ``djoin /savefile`` writes: ``FF FE``, the base64 text
  as UTF-16LE, then a UTF-16 NUL.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import HEADER, OdjFormatError

FORM_RAW = 'raw'
FORM_BASE64 = 'base64'
FORM_DJOIN = 'djoin_file'
FORMS = (FORM_RAW, FORM_BASE64, FORM_DJOIN)

_BOM = b'\xff\xfe'
_B64 = re.compile(r'^[A-Za-z0-9+/]+={0,2}$')


def detect_form(data):
    """Return 'raw', 'base64' or 'djoin_file' for data (bytes or str)."""
    if isinstance(data, str):
        return FORM_BASE64
    data = bytes(data)
    if data.startswith(HEADER[:4]):
        return FORM_RAW
    if data.startswith(_BOM):
        return FORM_DJOIN
    return FORM_BASE64


def _b64decode(text, offset_scale=1):
    text = text.strip()
    if not text:
        raise OdjFormatError('the package text is empty', 0, 'base64 text', 'base64 of a provisioning package')
    if not _B64.match(text) or len(text) % 4:
        bad = next((i for i, c in enumerate(text) if not (c.isalnum() or c in '+/=')), None)
        if bad is not None:
            raise OdjFormatError('character %r is not base64' % text[bad], bad * offset_scale, 'base64 text',
                                 'only A-Z a-z 0-9 + / =')
        raise OdjFormatError('base64 text of %d characters is not a whole number of 4-character groups' % len(text),
                             len(text) * offset_scale, 'base64 text', 'a length that is a multiple of 4')
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OdjFormatError('invalid base64 (%s)' % exc, 0, 'base64 text')
    if raw.startswith(_BOM) and offset_scale == 1:
        # base64 of a djoin file (what ansible.builtin.slurp returns for one)
        return to_raw(raw)
    if not raw.startswith(HEADER[:4]):
        raise OdjFormatError('the base64 text does not decode to a provisioning package', 0, 'base64 text',
                             'text starting with ARAIAMzMzM (raw package) or //5 (djoin file)')
    return raw


def to_raw(data):
    """Raw package bytes from any of the three forms; OdjFormatError if none fits."""
    form = detect_form(data)
    if form == FORM_RAW:
        return bytes(data)
    if form == FORM_DJOIN:
        data = bytes(data)
        if len(data) % 2:
            raise OdjFormatError('djoin file of odd length %d' % len(data), len(data) - 1, 'djoin file',
                                 'UTF-16LE text')
        try:
            text = data[2:].decode('utf-16-le')
        except UnicodeDecodeError as exc:
            raise OdjFormatError('djoin file is not UTF-16LE text', exc.start + 2, 'djoin file', 'UTF-16LE text')
        if not text.endswith('\x00'):
            raise OdjFormatError('djoin file does not end with a UTF-16 NUL', len(data), 'djoin file',
                                 'FF FE, base64 as UTF-16LE, 00 00')
        text = text[:-1]
        if '\x00' in text:
            raise OdjFormatError('djoin file has a NUL inside its text', 2 + 2 * text.index('\x00'), 'djoin file')
        return _b64decode(text, 2)
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode('ascii')
        except UnicodeDecodeError as exc:
            raise OdjFormatError('neither a raw package, a djoin file nor base64 text', exc.start, 'package',
                                 'raw bytes starting 01 10 08 00, FF FE, or base64 text')
    return _b64decode(data)


def to_base64(raw):
    """One line of base64 (what unattend AccountData and djoin /printblob hold)."""
    return base64.b64encode(bytes(raw)).decode('ascii')


def to_djoin_file(raw):
    """The djoin /savefile form: FF FE, base64 as UTF-16LE, UTF-16 NUL."""
    return _BOM + (to_base64(raw) + '\x00').encode('utf-16-le')


def render(raw, form):
    """raw in the given form: bytes for raw and djoin_file, str for base64."""
    if form == FORM_RAW:
        return bytes(raw)
    if form == FORM_BASE64:
        return to_base64(raw)
    if form == FORM_DJOIN:
        return to_djoin_file(raw)
    raise ValueError('unknown package form %r (expected one of %s)' % (form, ', '.join(FORMS)))
