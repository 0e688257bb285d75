# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write Windows registry hives with libhivex, through ctypes.

Debian's python3-hivex is built for the system Python only, so this binds the
C library (``libhivex.so.0``, package libhivex0) directly; it works from any
Python 3.9+ (a venv included).

A ``Hive`` is opened read-only or for writing. libhivex loads the whole file
into memory when opened for writing; nothing is written to disk until
``commit(path)``, which writes a complete new hive file at ``path`` (the
caller commits to a temporary file beside the original and renames it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import (
    REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_EXPAND_SZ, REG_LINK, REG_MULTI_SZ, REG_NONE, REG_QWORD, REG_SZ,
)

TYPE_NAMES = {
    REG_NONE: 'REG_NONE', REG_SZ: 'REG_SZ', REG_EXPAND_SZ: 'REG_EXPAND_SZ', REG_BINARY: 'REG_BINARY',
    REG_DWORD: 'REG_DWORD', REG_DWORD_BIG_ENDIAN: 'REG_DWORD_BIG_ENDIAN', REG_LINK: 'REG_LINK',
    REG_MULTI_SZ: 'REG_MULTI_SZ', REG_QWORD: 'REG_QWORD',
}

_OPEN_WRITE = 4
_OPEN_UNSAFE = 8


class HivexError(Exception):
    """libhivex is missing or refused an operation (message names the file and the step)."""


class _SetValue(ctypes.Structure):
    _fields_ = [('key', ctypes.c_char_p), ('t', ctypes.c_int), ('len', ctypes.c_size_t), ('value', ctypes.c_char_p)]


_LIB = None
_LIBC = None


def _signatures():
    """Argument and result types of the libhivex functions used (hivex(3))."""
    size_t, vp, cint, cstr = ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    return {
        'hivex_open': ([cstr, cint], vp),
        'hivex_close': ([vp], cint),
        'hivex_root': ([vp], size_t),
        'hivex_node_name': ([vp, size_t], vp),
        'hivex_node_children': ([vp, size_t], ctypes.POINTER(size_t)),
        'hivex_node_get_child': ([vp, size_t, cstr], size_t),
        'hivex_node_parent': ([vp, size_t], size_t),
        'hivex_node_values': ([vp, size_t], ctypes.POINTER(size_t)),
        'hivex_value_key': ([vp, size_t], vp),
        'hivex_value_value': ([vp, size_t, ctypes.POINTER(cint), ctypes.POINTER(size_t)], vp),
        'hivex_commit': ([vp, cstr, cint], cint),
        'hivex_node_add_child': ([vp, size_t, cstr], size_t),
        'hivex_node_delete_child': ([vp, size_t], cint),
        'hivex_node_set_value': ([vp, size_t, ctypes.POINTER(_SetValue), cint], cint),
    }


def _lib():
    global _LIB, _LIBC
    if _LIB is not None:
        return _LIB
    names = ['libhivex.so.0']
    found = ctypes.util.find_library('hivex')
    if found and found not in names:
        names.append(found)
    last = None
    for name in names:
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except OSError as exc:
            last = exc
    else:
        raise HivexError('libhivex (libhivex.so.0, Debian package libhivex0) could not be loaded: %s' % last)
    for name, (argtypes, restype) in _signatures().items():
        func = getattr(lib, name)
        func.argtypes = argtypes
        func.restype = restype
    libc = ctypes.CDLL(None)  # the C library already loaded (libhivex's malloc is its malloc)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None
    _LIB, _LIBC = lib, libc
    return lib


def _take_string(ptr):
    """Copy a malloc'd NUL-terminated UTF-8 string and free it."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode('utf-8', 'surrogateescape')
    finally:
        _LIBC.free(ptr)


def _take_array(ptr):
    """Copy a malloc'd 0-terminated size_t array and free it."""
    out = []
    if not ptr:
        return out
    try:
        i = 0
        while ptr[i]:
            out.append(ptr[i])
            i += 1
    finally:
        _LIBC.free(ctypes.cast(ptr, ctypes.c_void_p))
    return out


def _err(what):
    num = ctypes.get_errno()
    return HivexError('%s: %s' % (what, os.strerror(num) if num else 'libhivex reported an error'))


# ---- value encoding -----------------------------------------------------------------------

def encode_sz(text):
    return text.encode('utf-16-le') + b'\x00\x00'


def encode_dword(number):
    return struct.pack('<I', number & 0xFFFFFFFF)


def decode_value(vtype, data):
    """Registry value bytes -> Python value (str, int, list of str or bytes)."""
    if vtype in (REG_SZ, REG_EXPAND_SZ, REG_LINK):
        if len(data) % 2:
            data = data[:-1]
        text = data.decode('utf-16-le', 'replace')
        nul = text.find('\x00')
        return text if nul < 0 else text[:nul]
    if vtype == REG_DWORD and len(data) >= 4:
        return struct.unpack('<I', data[:4])[0]
    if vtype == REG_DWORD_BIG_ENDIAN and len(data) >= 4:
        return struct.unpack('>I', data[:4])[0]
    if vtype == REG_QWORD and len(data) >= 8:
        return struct.unpack('<Q', data[:8])[0]
    if vtype == REG_MULTI_SZ:
        if len(data) % 2:
            data = data[:-1]
        return [s for s in data.decode('utf-16-le', 'replace').split('\x00') if s]
    return bytes(data)


def encode_value(vtype, value):
    """Python value -> registry bytes for vtype."""
    if vtype in (REG_SZ, REG_EXPAND_SZ, REG_LINK):
        return encode_sz(value)
    if vtype == REG_DWORD:
        return encode_dword(value)
    if vtype == REG_QWORD:
        return struct.pack('<Q', value)
    if vtype == REG_MULTI_SZ:
        return b''.join(encode_sz(s) for s in value) + b'\x00\x00'
    return bytes(value)


class Hive(object):
    """One open hive. Use as a context manager; ``close()`` discards uncommitted changes."""

    def __init__(self, path, write=False, unsafe=False):
        lib = _lib()
        self.path = path
        self.write = write
        flags = (_OPEN_WRITE if write else 0) | (_OPEN_UNSAFE if unsafe else 0)
        if not os.path.isfile(path):
            raise HivexError('%s: not a file' % path)
        ctypes.set_errno(0)
        self._h = lib.hivex_open(os.fsencode(path), flags)
        if not self._h:
            raise _err('%s is not a registry hive libhivex can open (damaged, truncated or another file type)' % path)

    # context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self._h:
            _lib().hivex_close(self._h)
            self._h = None

    def _handle(self):
        if not self._h:
            raise HivexError('%s: hive is closed' % self.path)
        return self._h

    # ---- reading ----
    def root(self):
        ctypes.set_errno(0)
        node = _lib().hivex_root(self._handle())
        if not node:
            raise _err('%s: no root key' % self.path)
        return node

    def name(self, node):
        return _take_string(_lib().hivex_node_name(self._handle(), node))

    def children(self, node):
        ctypes.set_errno(0)
        ptr = _lib().hivex_node_children(self._handle(), node)
        if not ptr:
            raise _err('%s: cannot list subkeys' % self.path)
        return _take_array(ptr)

    def get_child(self, node, name):
        """Subkey by name (case-insensitive) or None."""
        ctypes.set_errno(0)
        child = _lib().hivex_node_get_child(self._handle(), node, name.encode('utf-8'))
        if not child:
            if ctypes.get_errno():
                raise _err('%s: cannot look up subkey %s' % (self.path, name))
            return None
        return child

    def parent(self, node):
        ctypes.set_errno(0)
        parent = _lib().hivex_node_parent(self._handle(), node)
        if not parent:
            raise _err('%s: no parent' % self.path)
        return parent

    def value_handles(self, node):
        ctypes.set_errno(0)
        ptr = _lib().hivex_node_values(self._handle(), node)
        if not ptr:
            raise _err('%s: cannot list values' % self.path)
        return _take_array(ptr)

    def value_name(self, value):
        return _take_string(_lib().hivex_value_key(self._handle(), value))

    def value_raw(self, value):
        """(type, bytes) of a value handle."""
        vtype = ctypes.c_int(0)
        size = ctypes.c_size_t(0)
        ctypes.set_errno(0)
        ptr = _lib().hivex_value_value(self._handle(), value, ctypes.byref(vtype), ctypes.byref(size))
        if not ptr:
            if size.value == 0 and not ctypes.get_errno():
                return vtype.value, b''
            raise _err('%s: cannot read a value' % self.path)
        try:
            return vtype.value, ctypes.string_at(ptr, size.value)
        finally:
            _LIBC.free(ptr)

    def values(self, node):
        """List of (name, type, bytes) in stored order; the default value has name ''."""
        out = []
        for value in self.value_handles(node):
            vtype, data = self.value_raw(value)
            out.append((self.value_name(value) or '', vtype, data))
        return out

    def navigate(self, path, create=False):
        """Node at a backslash path below the root; None if absent (unless create)."""
        node = self.root()
        for part in [p for p in path.replace('/', '\\').split('\\') if p]:
            child = self.get_child(node, part)
            if child is None:
                if not create:
                    return None
                child = self.add_child(node, part)
            node = child
        return node

    # ---- writing ----
    def _check_write(self):
        if not self.write:
            raise HivexError('%s: opened read-only' % self.path)

    def add_child(self, node, name):
        self._check_write()
        ctypes.set_errno(0)
        child = _lib().hivex_node_add_child(self._handle(), node, name.encode('utf-8'))
        if not child:
            raise _err('%s: cannot create subkey %s' % (self.path, name))
        return child

    def delete_child(self, node):
        self._check_write()
        ctypes.set_errno(0)
        if _lib().hivex_node_delete_child(self._handle(), node) != 0:
            raise _err('%s: cannot delete a key' % self.path)

    def set_value(self, node, name, vtype, data):
        """Create or replace one value (others in the key are kept)."""
        self._check_write()
        data = bytes(data)
        val = _SetValue(name.encode('utf-8'), vtype, len(data), data)
        ctypes.set_errno(0)
        if _lib().hivex_node_set_value(self._handle(), node, ctypes.byref(val), 0) != 0:
            raise _err('%s: cannot set value %s' % (self.path, name))

    def commit(self, path):
        """Write the whole hive, with the changes, to path (a new file)."""
        self._check_write()
        ctypes.set_errno(0)
        if _lib().hivex_commit(self._handle(), os.fsencode(path), 0) != 0:
            raise _err('%s: cannot write the hive to %s' % (self.path, path))


def walk(hive, node=None, prefix=''):
    """Yield (key path, [(name, type, bytes)]) for every key below node, depth first."""
    if node is None:
        node = hive.root()
    yield prefix, hive.values(node)
    for child in hive.children(node):
        name = hive.name(child)
        yield from walk(hive, child, prefix + '\\' + name if prefix else name)
