# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry Policy Files (``Registry.pol``) and the package's OP_POLICY_PART.

The file format (Microsoft "Registry Policy File Format", the one Group Policy
writes to ``<GPO>\\Machine\\Registry.pol`` in SYSVOL)::

    u32 signature  'PReg' (0x67655250)
    u32 version    1
    then entries until the end of the file, each in UTF-16LE except the
    binary fields:
    '[' key NUL ';' value-name NUL ';' u32 type ';' u32 size ';' data[size] ']'

``parse`` is strict: anything that does not follow that grammar (a missing
delimiter, a string or data running past the end, text that is not UTF-16,
an empty key, bytes after the last entry) is refused with a ``RegPolError``
that names the entry number (1-based) and the byte offset of the fault.

A package's OP_POLICY_PART holds one OP_POLICY_ELEMENT_LIST per policy file:
``pSource`` is the file's path (or GPO), ``ulRootKeyId`` is the root key the
keys are relative to -- Microsoft's IDL documentation says it "currently must
be set to HKEY_LOCAL_MACHINE", whose predefined handle value (winreg.h) is
0x80000002 -- and one OP_POLICY_ELEMENT per entry, value type and data kept
byte for byte.
"""

from __future__ import annotations

import collections
import struct

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_POLICY,
    PackagePart,
    PolicyElement,
    PolicyElementList,
    PolicyPart,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import (
    REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_EXPAND_SZ, REG_LINK, REG_MULTI_SZ, REG_QWORD, REG_SZ,
)

SIGNATURE = b'PReg'
VERSION = 1
HEADER_SIZE = 8

# Predefined registry handles (winreg.h); OP_POLICY_ELEMENT_LIST.ulRootKeyId.
HKEY_CLASSES_ROOT = 0x80000000
HKEY_CURRENT_USER = 0x80000001
HKEY_LOCAL_MACHINE = 0x80000002
HKEY_USERS = 0x80000003
ROOT_KEYS = {
    HKEY_CLASSES_ROOT: 'HKEY_CLASSES_ROOT',
    HKEY_CURRENT_USER: 'HKEY_CURRENT_USER',
    HKEY_LOCAL_MACHINE: 'HKEY_LOCAL_MACHINE',
    HKEY_USERS: 'HKEY_USERS',
}


MAX_U32 = 0xFFFFFFFF

_OPEN = '['.encode('utf-16-le')
_CLOSE = ']'.encode('utf-16-le')
_SEMI = ';'.encode('utf-16-le')
_NUL = b'\x00\x00'


class RegPolError(ValueError):
    """A Registry Policy File is malformed (or an entry cannot be written).

    ``entry`` is the 1-based number of the entry at fault (None for the
    header), ``offset`` the byte offset in the file, ``source`` the file name
    or GPO it came from when known.
    """

    def __init__(self, message, offset=None, entry=None, source=None):
        self.reason = message
        self.offset = offset
        self.entry = entry
        self.source = source
        super(RegPolError, self).__init__(self._text())

    def _text(self):
        where = []
        if self.source:
            where.append(str(self.source))
        if self.entry is not None:
            where.append('entry %d' % self.entry)
        elif self.offset is not None and self.offset < HEADER_SIZE:
            where.append('header')
        if self.offset is not None:
            where.append('byte offset %d (0x%x)' % (self.offset, self.offset))
        prefix = ', '.join(where)
        return '%s: %s' % (prefix, self.reason) if prefix else self.reason

    def with_source(self, source):
        """The same error, naming the file or GPO it came from."""
        return RegPolError(self.reason, self.offset, self.entry, source)


class RegPolEntry(collections.namedtuple('RegPolEntry', ['key', 'value_name', 'value_type', 'data'])):
    """One ``[key;value;type;size;data]`` entry; ``data`` is the raw bytes."""

    __slots__ = ()

    @property
    def size(self):
        return len(self.data)


def _read_string(data, pos, entry, what):
    """A NUL-terminated UTF-16LE string starting at pos; returns (text, position after the NUL)."""
    end = pos
    length = len(data)
    while True:
        if end + 2 > length:
            raise RegPolError('%s runs past the end of the file (no terminating NUL)' % what, pos, entry)
        if data[end] == 0 and data[end + 1] == 0:
            break
        end += 2
    try:
        text = data[pos:end].decode('utf-16-le')
    except UnicodeDecodeError as exc:
        raise RegPolError('%s is not valid UTF-16LE text (%s)' % (what, exc.reason), pos + exc.start, entry)
    return text, end + 2


def _expect(data, pos, token, char, entry, what):
    if data[pos:pos + 2] != token:
        found = data[pos:pos + 2]
        if len(found) < 2:
            raise RegPolError("expected '%s' %s, but the file ends" % (char, what), pos, entry)
        raise RegPolError("expected '%s' %s, found bytes %s" % (char, what, found.hex()), pos, entry)
    return pos + 2


def _read_u32(data, pos, entry, what):
    if pos + 4 > len(data):
        raise RegPolError('%s runs past the end of the file' % what, pos, entry)
    return struct.unpack_from('<I', data, pos)[0], pos + 4


def parse(data, source=None):
    """Parse a Registry Policy File; return the list of RegPolEntry in file order.

    Raises RegPolError (naming source, entry number and byte offset) for
    anything that is not exactly the format.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RegPolError('a Registry Policy File is bytes, not %s' % type(data).__name__, source=source)
    data = bytes(data)
    try:
        return _parse(data)
    except RegPolError as exc:
        if source is not None:
            raise exc.with_source(source)
        raise


def _parse(data):
    if len(data) < HEADER_SIZE:
        raise RegPolError('the file is %d bytes long, shorter than the 8-byte PReg header' % len(data), 0)
    if data[:4] != SIGNATURE:
        raise RegPolError("signature is %r, expected b'PReg' (not a Registry Policy File)" % data[:4], 0)
    version = struct.unpack_from('<I', data, 4)[0]
    if version != VERSION:
        raise RegPolError('version is %d, only version 1 is defined' % version, 4)
    entries = []
    pos = HEADER_SIZE
    length = len(data)
    while pos < length:
        number = len(entries) + 1
        pos = _expect(data, pos, _OPEN, '[', number, 'to open the entry')
        key_at = pos
        key, pos = _read_string(data, pos, number, 'the key')
        if not key:
            raise RegPolError('the key is empty', key_at, number)
        pos = _expect(data, pos, _SEMI, ';', number, 'after the key')
        value_name, pos = _read_string(data, pos, number, 'the value name')
        pos = _expect(data, pos, _SEMI, ';', number, 'after the value name')
        value_type, pos = _read_u32(data, pos, number, 'the value type')
        pos = _expect(data, pos, _SEMI, ';', number, 'after the value type')
        size, pos = _read_u32(data, pos, number, 'the data size')
        pos = _expect(data, pos, _SEMI, ';', number, 'after the data size')
        if pos + size > length:
            raise RegPolError('the data size is %d bytes but only %d remain in the file' % (size, length - pos),
                              pos - 6, number)
        value = data[pos:pos + size]
        pos += size
        pos = _expect(data, pos, _CLOSE, ']', number, 'to close the entry (is the data size right?)')
        entries.append(RegPolEntry(key, value_name, value_type, value))
    return entries


def _check_entry(entry, number):
    if not isinstance(entry, RegPolEntry):
        try:
            entry = RegPolEntry(*entry)
        except TypeError:
            raise RegPolError('an entry is (key, value_name, value_type, data), got %r' % (entry,), entry=number)
    key, value_name, value_type, data = entry
    if not isinstance(key, str) or not key:
        raise RegPolError('the key must be a non-empty string', entry=number)
    if not isinstance(value_name, str):
        raise RegPolError('the value name must be a string', entry=number)
    for what, text in (('key', key), ('value name', value_name)):
        if '\x00' in text:
            raise RegPolError('the %s contains a NUL character' % what, entry=number)
    if isinstance(value_type, bool) or not isinstance(value_type, int) or not 0 <= value_type <= MAX_U32:
        raise RegPolError('the value type must be a 32-bit unsigned integer', entry=number)
    if not isinstance(data, (bytes, bytearray)):
        raise RegPolError('the data must be bytes (see encode_value)', entry=number)
    if len(data) > MAX_U32:
        raise RegPolError('the data is larger than 4 GiB', entry=number)
    return RegPolEntry(key, value_name, value_type, bytes(data))


def write(entries):
    """Serialize entries (RegPolEntry or 4-tuples) to a Registry Policy File."""
    out = bytearray(SIGNATURE)
    out += struct.pack('<I', VERSION)
    for number, entry in enumerate(entries, 1):
        key, value_name, value_type, data = _check_entry(entry, number)
        try:
            out += _OPEN + key.encode('utf-16-le') + _NUL + _SEMI + value_name.encode('utf-16-le') + _NUL + _SEMI
        except UnicodeEncodeError:
            raise RegPolError('the key or value name cannot be encoded as UTF-16', entry=number)
        out += struct.pack('<I', value_type) + _SEMI + struct.pack('<I', len(data)) + _SEMI + data + _CLOSE
    return bytes(out)


def encode_value(value_type, value):
    """Registry data bytes for a Python value of a given REG_* type.

    REG_SZ / REG_EXPAND_SZ / REG_LINK: str (a terminating NUL is added);
    REG_MULTI_SZ: list of str; REG_DWORD / REG_DWORD_BIG_ENDIAN / REG_QWORD:
    int; anything else: bytes as they are.
    """
    if value_type in (REG_SZ, REG_EXPAND_SZ, REG_LINK):
        return (value + '\x00').encode('utf-16-le')
    if value_type == REG_MULTI_SZ:
        return (''.join(item + '\x00' for item in value) + '\x00').encode('utf-16-le')
    if value_type == REG_DWORD:
        return struct.pack('<I', value)
    if value_type == REG_DWORD_BIG_ENDIAN:
        return struct.pack('>I', value)
    if value_type == REG_QWORD:
        return struct.pack('<Q', value)
    if not isinstance(value, (bytes, bytearray)):
        raise ValueError('data of registry type %d must be bytes' % value_type)
    return bytes(value)


def read_file(path):
    """Read and parse a policy file; RegPolError names the path."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise RegPolError('cannot read the policy file: %s' % (exc.strerror or exc), source=path)
    return parse(data, source=path)


def element_list(entries, source, root_key_id=HKEY_LOCAL_MACHINE):
    """An OP_POLICY_ELEMENT_LIST for one policy file's entries."""
    if not isinstance(source, str) or not source or '\x00' in source:
        raise ValueError('the source of a policy element list must be a non-empty string without NUL')
    elements = []
    for number, entry in enumerate(entries, 1):
        key, value_name, value_type, data = _check_entry(entry, number)
        elements.append(PolicyElement(key_path=key, value_name=value_name, value_type=value_type, data=data))
    return PolicyElementList(source=source, root_key_id=root_key_id, elements=elements)


def entries_of(element_list_obj):
    """The RegPolEntry list an OP_POLICY_ELEMENT_LIST carries (for comparison with the file)."""
    return [RegPolEntry(element.key_path, element.value_name if element.value_name is not None else '',
                        element.value_type, element.data or b'')
            for element in element_list_obj.elements or []]


def build_policy_part(sources, root_key_id=HKEY_LOCAL_MACHINE):
    """A PackagePart (OP_POLICY_PART) with one element list per source.

    sources: iterable of (source_name, data) where data is the policy file's
    bytes (parsed strictly here) or an already parsed list of entries.
    Raises RegPolError naming the source of a malformed file, ValueError when
    there is no source at all.
    """
    lists = []
    for source, data in sources:
        entries = parse(data, source=source) if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
        lists.append(element_list(entries, source, root_key_id))
    if not lists:
        raise ValueError('a policy part needs at least one policy file')
    return PackagePart(part_type=PART_POLICY, flags=0, payload=PolicyPart(element_lists=lists, extension=None))


def policy_part_from_files(paths):
    """build_policy_part for local files; each element list's source is the file's path."""
    return build_policy_part([(path, read_file(path)) for path in paths])


__all__ = [
    'RegPolError', 'RegPolEntry', 'parse', 'write', 'encode_value', 'read_file', 'element_list', 'entries_of',
    'build_policy_part', 'policy_part_from_files', 'HKEY_LOCAL_MACHINE', 'ROOT_KEYS', 'SIGNATURE', 'VERSION',
]
