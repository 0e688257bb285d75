# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inspect a Windows Installer package (a COM+ application export) on Linux.

A COM+ export is an MSI database: an OLE compound file whose root storage has the
installer CLSID, holding the usual tables plus a ``Complus`` table
(``Component_``, ``ExpType``) naming the component that carries the application.
Everything is read in pure Python over ``olefile`` (no external tool, no
subprocess); the tests compare the result with ``msiinfo`` from msitools. Every
failure raises :class:`MsiError` with a message naming the file and what is
wrong with it.

The database layer: each table is one OLE stream, stored column by column.
Stream names are compressed - characters 0x3800-0x47FF hold two characters of
the alphabet [0-9A-Za-z._], 0x4800-0x483F one, and 0x4840 marks a table stream.
Strings live in a shared pool (``_StringPool``: lengths and reference counts;
``_StringData``: the bytes); cells hold 1-based string ids (2 bytes, or 3 when
the pool header's high bit is set); integer cells are stored with the sign bit
flipped; 0 means NULL. ``_Tables`` lists the tables, ``_Columns`` their columns.
"""

from __future__ import annotations

import hashlib
import os
import struct

try:
    import olefile
    HAS_OLEFILE = True
except ImportError:  # pragma: no cover - reported by check_compound_file
    olefile = None
    HAS_OLEFILE = False

# Root-storage CLSIDs of the installer file kinds.
CLSID_MSI_DATABASE = '000C1084-0000-0000-C000-000000000046'
CLSID_KINDS = {
    CLSID_MSI_DATABASE: 'installer database (.msi)',
    '000C1086-0000-0000-C000-000000000046': 'installer patch (.msp)',
    '000C1082-0000-0000-C000-000000000046': 'installer transform (.mst)',
}
OLE_MAGIC = b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1'
_CHUNK = 1024 * 1024

MSITYPE_VALID = 0x0100
MSITYPE_STRING = 0x0800
MSITYPE_NULLABLE = 0x1000
MSITYPE_TEMPORARY = 0x4000
TABLE_PREFIX = u'\u4840'


class MsiError(ValueError):
    """The file is missing, not an installer database, or damaged."""


def file_digest(path):
    """(size, sha256 hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def long_file_name(value):
    """The long name of a File.FileName value ('SHORT~1.EXT|Long name.ext' -> 'Long name.ext')."""
    if value is None:
        return None
    return value.split('|', 1)[1] if '|' in value else value


def _decode(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value


def check_compound_file(path):
    """Check that path is an OLE compound file with the installer-database CLSID; return its summary information."""
    if not os.path.exists(path):
        raise MsiError('%s: no such file' % path)
    if not os.path.isfile(path):
        raise MsiError('%s: not a regular file' % path)
    with open(path, 'rb') as handle:
        head = handle.read(8)
    if head != OLE_MAGIC:
        raise MsiError('%s: not a Windows Installer package: it is not an OLE compound file (starts with %s, expected d0cf11e0a1b11ae1)'
                       % (path, head.hex() or 'nothing, the file is empty'))
    if not HAS_OLEFILE:
        raise MsiError('the Python library olefile is needed to inspect installer packages (pip install olefile)')
    try:
        ole = olefile.OleFileIO(path)
    except Exception as exc:  # olefile raises OSError and assorted errors on damage
        raise MsiError('%s: damaged OLE compound file: %s' % (path, exc))
    try:
        clsid = (ole.root.clsid or '').upper()
        if clsid != CLSID_MSI_DATABASE:
            kind = CLSID_KINDS.get(clsid, 'not an installer file (root CLSID %s)' % (clsid or 'empty'))
            raise MsiError('%s: not a Windows Installer database: %s' % (path, kind))
        try:
            meta = ole.get_metadata()
            summary = {
                'title': _decode(meta.title),
                'subject': _decode(meta.subject),
                'author': _decode(meta.author),
                'template': _decode(meta.template),
                'package_code': _decode(meta.revision_number),
                'creating_application': _decode(meta.creating_application),
            }
        except Exception as exc:
            raise MsiError('%s: damaged summary information stream: %s' % (path, exc))
        summary['stream_count'] = len(ole.listdir(streams=True, storages=False))
    finally:
        ole.close()
    return summary


# ---------------------------------------------------------------- the database layer

def _mime(value):
    if value < 10:
        return chr(48 + value)
    if value < 36:
        return chr(65 + value - 10)
    if value < 62:
        return chr(97 + value - 36)
    return '.' if value == 62 else '_'


def decode_stream_name(name):
    """The readable name of an OLE stream of an installer database (TABLE_PREFIX + name for tables)."""
    out = []
    for char in name:
        code = ord(char)
        if 0x3800 <= code < 0x4800:
            code -= 0x3800
            out.append(_mime(code & 0x3F) + _mime((code >> 6) & 0x3F))
        elif 0x4800 <= code < 0x4840:
            out.append(_mime(code - 0x4800))
        else:
            out.append(char)
    return ''.join(out)


def _is_binary(ctype):
    return ctype & ~MSITYPE_NULLABLE & 0xFFFF == MSITYPE_STRING | MSITYPE_VALID


class MsiDatabase(object):
    """Read-only access to the tables of an installer database."""

    def __init__(self, path):
        self.path = path
        check_compound_file(path)
        try:
            self.ole = olefile.OleFileIO(path)
        except Exception as exc:
            raise MsiError('%s: damaged OLE compound file: %s' % (path, exc))
        try:
            self.streams = {}
            for entry in self.ole.listdir(streams=True, storages=False):
                if len(entry) == 1:
                    self.streams[decode_stream_name(entry[0])] = entry
            self._load_strings()
            self.tables = [self._string(ref) for ref in self._refs(self._stream('_Tables'))]
            self.columns = self._load_columns()
        except MsiError:
            self.ole.close()
            raise
        except Exception as exc:  # struct errors, olefile errors on truncated streams
            self.ole.close()
            raise MsiError('%s: damaged installer database: %s' % (path, exc))

    def close(self):
        self.ole.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _damaged(self, what):
        return MsiError('%s: damaged installer database: %s' % (self.path, what))

    def _stream(self, name, required=True):
        entry = self.streams.get(TABLE_PREFIX + name)
        if entry is None:
            if required:
                raise self._damaged('stream %s is missing' % name)
            return b''
        try:
            return self.ole.openstream(entry).read()
        except Exception as exc:
            raise self._damaged('stream %s cannot be read (%s)' % (name, exc))

    def _load_strings(self):
        pool = self._stream('_StringPool')
        data = self._stream('_StringData')
        if len(pool) < 4 or len(pool) % 4:
            raise self._damaged('string pool of %d bytes' % len(pool))
        words = struct.unpack('<%dH' % (len(pool) // 2), pool)
        codepage = words[0] | ((words[1] & 0x7FFF) << 16)
        self.ref_size = 3 if words[1] & 0x8000 else 2
        encoding = 'utf-8' if codepage == 65001 else ('cp%d' % codepage if codepage else 'cp1252')
        try:
            ''.encode(encoding)
        except LookupError:
            encoding = 'cp1252'
        strings = [None]
        count = len(words) // 2
        index, offset = 1, 0
        while index < count:
            length, refs = words[index * 2], words[index * 2 + 1]
            if length == 0 and refs == 0:
                strings.append('')
                index += 1
                continue
            if length == 0:  # a string over 64 KiB: the high word is in refs, the low word in the next entry
                if index + 1 >= count:
                    raise self._damaged('truncated string pool')
                length = (refs << 16) + words[index * 2 + 2]
                index += 2
            else:
                index += 1
            if offset + length > len(data):
                raise self._damaged('the string data is shorter than the string pool says')
            strings.append(data[offset:offset + length].decode(encoding, 'replace'))
            offset += length
        self.strings = strings

    def _string(self, ref):
        if ref == 0:
            return None
        if ref >= len(self.strings):
            raise self._damaged('string id %d out of range' % ref)
        return self.strings[ref]

    def _refs(self, raw):
        size = self.ref_size
        if len(raw) % size:
            raise self._damaged('a list of %d bytes is not whole string ids' % len(raw))
        return [int.from_bytes(raw[i:i + size], 'little') for i in range(0, len(raw), size)]

    def _load_columns(self):
        raw = self._stream('_Columns')
        ref = self.ref_size
        width = 2 * ref + 4
        if len(raw) % width:
            raise self._damaged('_Columns of %d bytes' % len(raw))
        rows = len(raw) // width
        tables = self._refs(raw[:rows * ref])
        numbers = struct.unpack_from('<%dH' % rows, raw, rows * ref)
        names = self._refs(raw[rows * (ref + 2):rows * (2 * ref + 2)])
        types = struct.unpack_from('<%dH' % rows, raw, rows * (2 * ref + 2))
        columns = {}
        for i in range(rows):
            columns.setdefault(self._string(tables[i]), []).append(
                (numbers[i] ^ 0x8000, self._string(names[i]), types[i] ^ 0x8000))
        return dict((table, sorted(cols)) for table, cols in columns.items())

    def _width(self, ctype):
        if _is_binary(ctype):
            return 2
        if ctype & MSITYPE_STRING:
            return self.ref_size
        return 2 if ctype & 0xFF <= 2 else 4

    def rows(self, table):
        """Rows of a table as dicts keyed by column name (stream cells read as '[stream]')."""
        if table not in self.columns:
            raise MsiError('%s: the installer database has no table %s' % (self.path, table))
        columns = [c for c in self.columns[table] if not c[2] & MSITYPE_TEMPORARY]
        widths = [self._width(c[2]) for c in columns]
        raw = self._stream(table, required=False)
        size = sum(widths)
        if size == 0 or len(raw) % size:
            raise self._damaged('table %s has %d bytes, not whole rows of %d bytes' % (table, len(raw), size))
        count = len(raw) // size
        out = [{} for dummy in range(count)]
        base = 0
        for (dummy, name, ctype), width in zip(columns, widths):
            for i in range(count):
                cell = int.from_bytes(raw[base + i * width:base + (i + 1) * width], 'little')
                if _is_binary(ctype):
                    value = None if cell == 0 else '[stream]'
                elif ctype & MSITYPE_STRING:
                    value = self._string(cell)
                elif cell == 0:
                    value = None
                else:
                    value = cell - (0x8000 if width == 2 else 0x80000000)
                out[i][name] = value
            base += width * count
        return out


# ---------------------------------------------------------------- the package

def inspect_msi(path):
    """Everything the controller checks before sending a COM+ package.

    Returns a dict: path, size, sha256, summary, tables, product_name,
    product_code, product_version, manufacturer, has_complus_table,
    complus (rows: component, exp_type), files (key, component, name, size,
    version), apl_files (names of .apl files).
    """
    path = os.path.abspath(path)
    with MsiDatabase(path) as db:
        summary = check_compound_file(path)
        tables = sorted(t for t in db.tables if t and not t.startswith('_'))
        if not tables:
            raise MsiError('%s: the installer database holds no tables (empty or damaged database)' % path)
        properties = {}
        if 'Property' in tables:
            for row in db.rows('Property'):
                properties[row.get('Property')] = row.get('Value')
        complus = []
        if 'Complus' in tables:
            for row in db.rows('Complus'):
                complus.append({'component': row.get('Component_'), 'exp_type': row.get('ExpType')})
        files = []
        if 'File' in tables:
            for row in db.rows('File'):
                files.append({
                    'key': row.get('File'),
                    'component': row.get('Component_'),
                    'name': long_file_name(row.get('FileName')),
                    'size': row.get('FileSize'),
                    'version': row.get('Version'),
                })
    size, sha256 = file_digest(path)
    return {
        'path': path,
        'size': size,
        'sha256': sha256,
        'summary': summary,
        'tables': tables,
        'product_name': properties.get('ProductName') or summary.get('subject'),
        'product_code': properties.get('ProductCode'),
        'product_version': properties.get('ProductVersion'),
        'manufacturer': properties.get('Manufacturer'),
        'has_complus_table': 'Complus' in tables,
        'complus': complus,
        'files': files,
        'apl_files': [f['name'] for f in files if f['name'] and f['name'].lower().endswith('.apl')],
    }


def require_complus_package(info):
    """Raise MsiError unless the inspected package is a COM+ application export."""
    if not info['has_complus_table']:
        raise MsiError('%s: not a COM+ application export: the installer database has no Complus table (tables: %s)'
                       % (info['path'], ', '.join(info['tables']) or 'none'))
    if not info['complus']:
        raise MsiError('%s: not a usable COM+ application export: the Complus table is empty' % info['path'])
    return info
