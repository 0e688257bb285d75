# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NDR20 type serialization (MS-RPCE 2.2.6), driven by declarative schemas.

Every offline-join structure is a *type serialization version 1* object: a
16-byte header (version 1, little-endian, header length 8, filler 0xCCCCCCCC,
body length, zero) and an NDR20 body that starts with the referent id of a
pointer to the structure. A structure is described once, as a tuple of field
specs (``U32``, ``GUID``, ``WSTR``, ``USTR``, ``SID``, ``BYTES``, ``NESTED``,
``EMBED``, ``ARRAY``); the same description drives both directions, in the
order NDR20 (and Samba's pidl) lays data out: all scalars of a structure first,
then the bodies its pointers refer to (deferred), depth first.

Decoding is strict: any deviation raises :class:`OdjFormatError` with the
absolute byte offset, the structure being read and what was expected. The
things NDR leaves to the writer (referent id values, a string's maximum count,
an ``LSA_UNICODE_STRING``'s MaximumLength) are recorded in a :class:`Layout` so
that re-encoding a decoded object reproduces its bytes exactly.
"""

from __future__ import annotations

import struct
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.common.sid import format_sid, parse_sid

HEADER = b'\x01\x10\x08\x00\xcc\xcc\xcc\xcc'
HEADER_LEN = 16
FIRST_REFERENT = 0x00020000


class OdjFormatError(ValueError):
    """A provisioning package (or one of its parts) is malformed.

    ``offset`` is the byte offset in the raw package (or in the text, for form
    errors), ``structure`` the structure being decoded and ``expected`` what the
    decoder needed there. The message never contains package content.
    """

    def __init__(self, message, offset=None, structure=None, expected=None):
        self.offset = offset
        self.structure = structure
        self.expected = expected
        self.reason = message
        text = message
        where = []
        if structure:
            where.append(structure)
        if offset is not None:
            where.append('offset %d (0x%x)' % (offset, offset))
        if where:
            text = '%s: %s' % (' at '.join(where), message)
        if expected:
            text = '%s (expected %s)' % (text, expected)
        super(OdjFormatError, self).__init__(text)


# ---------------------------------------------------------------- field specs

class Field(object):
    """Base of the field specs; ``attr`` is the attribute of the Python object."""

    def __init__(self, attr):
        self.attr = attr


class U32(Field):
    """A 32-bit unsigned integer (aligned to 4)."""


class GUID(Field):
    """A GUID in Windows (bytes_le) order, aligned to 4; a uuid.UUID in Python."""


class WSTR(Field):
    """``[string, unique] wchar_t *``: a NUL-terminated UTF-16 string or None."""


class USTR(Field):
    """An embedded ``LSA_UNICODE_STRING`` (Length, MaximumLength, Buffer) or None."""


class SID(Field):
    """``[unique] SID *`` (conformant), as the text form ``S-1-5-...`` or None."""


class BYTES(Field):
    """``u32 cb; [size_is(cb), unique] BYTE *p``: bytes, or None for a NULL pointer."""


class NESTED(Field):
    """Like BYTES, but the bytes are themselves a type-1 serialization.

    ``resolve(obj)`` is called after the containing structure's scalars are
    read (so it can look at a type or format field) and returns the class to
    decode the bytes as, or None to keep them as an opaque ``RawPayload``.
    """

    def __init__(self, attr, resolve):
        super(NESTED, self).__init__(attr)
        self.resolve = resolve


class EMBED(Field):
    """A structure embedded by value."""

    def __init__(self, attr, cls):
        super(EMBED, self).__init__(attr)
        self.cls = cls


class ARRAY(Field):
    """``u32 count; [size_is(count), unique] T *p``: a list of structures."""

    def __init__(self, attr, cls):
        super(ARRAY, self).__init__(attr)
        self.cls = cls


class RawPayload(object):
    """Bytes kept as they are: an unknown part type, an unknown blob format, or
    the wrapped part collection of an encrypted package."""

    def __init__(self, data):
        self.data = bytes(data)

    def __eq__(self, other):
        return isinstance(other, RawPayload) and other.data == self.data

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return 'RawPayload(%d bytes)' % len(self.data)


class Layout(object):
    """Writer's choices seen while decoding one serialization, replayed on encode."""

    def __init__(self):
        self.refs = []
        self.wstr_max = []
        self.wstr_actual = []
        self.ustr_max = []
        self.top_ref = FIRST_REFERENT


def _schema(cls):
    return cls.SCHEMA


# ---------------------------------------------------------------- reader

class _Reader(object):
    def __init__(self, data, base, structure, layout):
        self.data = data
        self.pos = 0
        self.base = base
        self.structure = structure
        self.layout = layout

    def fail(self, message, expected=None, at=None):
        pos = self.pos if at is None else at
        raise OdjFormatError(message, self.base + pos, self.structure, expected)

    def need(self, count, what):
        if count < 0 or self.pos + count > len(self.data):
            self.fail('%s runs past the end of the data (%d bytes needed, %d left)'
                      % (what, count, len(self.data) - self.pos))

    def align(self, size):
        pad = (-self.pos) % size
        if pad:
            self.need(pad, 'alignment padding')
            if any(self.data[self.pos:self.pos + pad]):
                self.fail('non-zero alignment padding', 'zero bytes')
            self.pos += pad

    def u8(self, what):
        self.need(1, what)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, what):
        self.align(2)
        self.need(2, what)
        value = struct.unpack_from('<H', self.data, self.pos)[0]
        self.pos += 2
        return value

    def u32(self, what):
        self.align(4)
        self.need(4, what)
        value = struct.unpack_from('<I', self.data, self.pos)[0]
        self.pos += 4
        return value

    def raw(self, count, what):
        self.need(count, what)
        value = self.data[self.pos:self.pos + count]
        self.pos += count
        return value

    def guid(self, what):
        self.align(4)
        return uuid.UUID(bytes_le=bytes(self.raw(16, what)))

    def ptr(self, what):
        ref = self.u32(what + ' pointer')
        if ref:
            self.layout.refs.append(ref)
        return ref

    def utf16(self, count, what):
        start = self.pos
        blob = self.raw(count * 2, what)
        try:
            return bytes(blob).decode('utf-16-le', 'surrogatepass')
        except UnicodeDecodeError:
            self.fail('%s is not valid UTF-16' % what, at=start)


class _Writer(object):
    def __init__(self, layout):
        self.buf = bytearray()
        self.layout = layout
        self.ref_index = 0
        self.hint_index = {}
        self.next_ref = FIRST_REFERENT + 4

    def align(self, size):
        self.buf.extend(b'\x00' * ((-len(self.buf)) % size))

    def u8(self, value):
        self.buf.append(value & 0xFF)

    def u16(self, value):
        self.align(2)
        self.buf.extend(struct.pack('<H', value))

    def u32(self, value):
        self.align(4)
        self.buf.extend(struct.pack('<I', value))

    def guid(self, value):
        self.align(4)
        self.buf.extend(_as_uuid(value).bytes_le)

    def ptr(self, present):
        if not present:
            self.u32(0)
            return
        refs = self.layout.refs if self.layout else ()
        if self.ref_index < len(refs):
            ref = refs[self.ref_index]
        else:
            ref = self.next_ref
            self.next_ref += 4
        self.ref_index += 1
        self.u32(ref)

    def hint(self, kind, minimum):
        """The decoded package's choice for the next string of this kind, if still valid."""
        values = getattr(self.layout, kind) if self.layout else ()
        index = self.hint_index.get(kind, 0)
        self.hint_index[kind] = index + 1
        if index < len(values) and values[index] >= minimum:
            return values[index]
        return None


def _as_uuid(value):
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, bytes) and len(value) == 16:
        return uuid.UUID(bytes_le=value)
    return uuid.UUID(str(value))


# ---------------------------------------------------------------- SIDs

sid_to_str = format_sid
sid_from_str = parse_sid


# ---------------------------------------------------------------- struct walk

def _read_scalars(r, cls, values, pending):
    """Read the scalar part of cls into values; queue deferred bodies in pending."""
    for field in _schema(cls):
        name = '%s.%s' % (cls.__name__, field.attr)
        if isinstance(field, U32):
            values[field.attr] = r.u32(name)
        elif isinstance(field, GUID):
            values[field.attr] = r.guid(name)
        elif isinstance(field, (WSTR, SID)):
            pending.append((field, r.ptr(name), None))
        elif isinstance(field, USTR):
            length = r.u16(name + '.Length')
            maximum = r.u16(name + '.MaximumLength')
            ref = r.ptr(name)
            if length % 2 or maximum % 2:
                r.fail('%s has an odd byte length' % name, 'even Length and MaximumLength')
            if length > maximum:
                r.fail('%s Length %d exceeds MaximumLength %d' % (name, length, maximum), 'Length <= MaximumLength')
            if not ref and (length or maximum):
                r.fail('%s has a length but a NULL buffer' % name, 'Length = MaximumLength = 0 for a NULL buffer')
            pending.append((field, ref, (length, maximum)))
        elif isinstance(field, (BYTES, NESTED, ARRAY)):
            count = r.u32(name + ' count')
            ref = r.ptr(name)
            if not ref and count:
                r.fail('%s has %d elements but a NULL pointer' % (name, count), 'a non-NULL pointer')
            pending.append((field, ref, count))
        elif isinstance(field, EMBED):
            sub_values = {}
            sub_pending = []
            r.align(4)
            _read_scalars(r, field.cls, sub_values, sub_pending)
            values[field.attr] = (field.cls, sub_values, sub_pending)
        else:  # pragma: no cover - schema bug
            raise TypeError(field)


def _read_buffers(r, cls, values, pending):
    for field, ref, extra in pending:
        name = '%s.%s' % (cls.__name__, field.attr)
        if isinstance(field, WSTR):
            values[field.attr] = _read_wstr(r, name) if ref else None
        elif isinstance(field, USTR):
            values[field.attr] = _read_ustr(r, name, extra) if ref else None
        elif isinstance(field, SID):
            values[field.attr] = _read_sid(r, name) if ref else None
        elif isinstance(field, (BYTES, NESTED)):
            data = _read_bytes(r, name, extra) if ref else None
            if isinstance(field, NESTED):
                values[field.attr] = data
            else:
                values[field.attr] = None if data is None else bytes(data)
            values['_at_' + field.attr] = r.pos - (len(data) if data is not None else 0)
        elif isinstance(field, ARRAY):
            values[field.attr] = _read_array(r, name, field.cls, extra) if ref else None
    # embedded structures: their deferred bodies follow in field order
    # (pidl emits buffers of the fields in order; embedded ones are fields too)


def _read_struct_body(r, cls):
    """Read one structure (scalars, then deferred bodies) and build the object."""
    values = {}
    pending = []
    r.align(4)
    _read_scalars(r, cls, values, pending)
    return _finish_struct(r, cls, values, pending)


def _finish_struct(r, cls, values, pending):
    # pending of this level and of embedded structs, interleaved in field order
    order = []
    for field in _schema(cls):
        if isinstance(field, EMBED):
            order.append(('embed', field))
        else:
            order.append(('own', field))
    own = dict((id(f), (f, ref, extra)) for f, ref, extra in pending)
    for kind, field in order:
        if kind == 'own':
            if id(field) in own:
                _read_buffers(r, cls, values, [own[id(field)]])
        else:
            sub_cls, sub_values, sub_pending = values[field.attr]
            values[field.attr] = _finish_struct(r, sub_cls, sub_values, sub_pending)
    return _construct(r, cls, values)


def _construct(r, cls, values):
    nested_at = {}
    for field in _schema(cls):
        if isinstance(field, NESTED):
            nested_at[field.attr] = values.pop('_at_' + field.attr, 0)
        else:
            values.pop('_at_' + field.attr, None)
    obj = cls(**dict((f.attr, values.get(f.attr)) for f in _schema(cls) if not isinstance(f, NESTED)))
    for field in _schema(cls):
        if isinstance(field, NESTED):
            data = values.get(field.attr)
            if data is None:
                setattr(obj, field.attr, None)
                continue
            target = field.resolve(obj)
            if target is None:
                setattr(obj, field.attr, RawPayload(data))
            else:
                setattr(obj, field.attr, decode_type1(bytes(data), target, r.base + nested_at[field.attr]))
    post = getattr(obj, 'validate', None)
    if post is not None:
        try:
            post()
        except ValueError as exc:
            r.fail(str(exc))
    return obj


def _read_wstr(r, name):
    start = r.pos
    maximum = r.u32(name + ' max count')
    offset = r.u32(name + ' offset')
    actual = r.u32(name + ' actual count')
    if offset != 0:
        r.fail('%s has a non-zero offset %d' % (name, offset), 'offset 0', start + 4)
    if actual > maximum:
        r.fail('%s actual count %d exceeds max count %d' % (name, actual, maximum), 'actual <= max', start + 8)
    if actual == 0:
        r.fail('%s is empty, without its terminating NUL' % name, 'at least the NUL character', start + 8)
    text = r.utf16(actual, name)
    if text[-1] != '\x00':
        r.fail('%s is not NUL-terminated' % name, 'a terminating NUL', r.pos - 2)
    r.layout.wstr_max.append(maximum)
    r.layout.wstr_actual.append(actual)
    return text[:-1]


def _read_ustr(r, name, lengths):
    length, maximum = lengths
    start = r.pos
    body_max = r.u32(name + ' max count')
    offset = r.u32(name + ' offset')
    actual = r.u32(name + ' actual count')
    if body_max != maximum // 2 or offset != 0 or actual != length // 2:
        r.fail('%s body (max %d, offset %d, actual %d) disagrees with Length %d / MaximumLength %d'
               % (name, body_max, offset, actual, length, maximum),
               'max = MaximumLength/2, offset 0, actual = Length/2', start)
    r.layout.ustr_max.append(maximum)
    return r.utf16(actual, name)


def _read_sid(r, name):
    start = r.pos
    count = r.u32(name + ' conformance')
    revision = r.u8(name + ' revision')
    sub_count = r.u8(name + ' sub-authority count')
    if sub_count != count:
        r.fail('%s sub-authority count %d disagrees with its conformance %d' % (name, sub_count, count), 'equal counts', start)
    if count > 15:
        r.fail('%s has %d sub-authorities' % (name, count), 'at most 15', start)
    authority = int.from_bytes(bytes(r.raw(6, name + ' authority')), 'big')
    subs = [r.u32(name + ' sub-authority') for dummy in range(count)]
    return sid_to_str(revision, authority, subs)


def _read_bytes(r, name, count):
    start = r.pos
    conformance = r.u32(name + ' conformance')
    if conformance != count:
        r.fail('%s conformance %d disagrees with its byte count %d' % (name, conformance, count), 'equal values', start)
    return r.raw(count, name)


def _read_array(r, name, cls, count):
    start = r.pos
    conformance = r.u32(name + ' conformance')
    if conformance != count:
        r.fail('%s conformance %d disagrees with its element count %d' % (name, conformance, count), 'equal values', start)
    if count * 4 > len(r.data) - r.pos:
        r.fail('%s claims %d elements, more than the data can hold' % (name, count))
    staged = []
    for dummy in range(count):
        values = {}
        pending = []
        r.align(4)
        _read_scalars(r, cls, values, pending)
        staged.append((values, pending))
    return [_finish_struct(r, cls, values, pending) for values, pending in staged]


# ---------------------------------------------------------------- writer

def _write_scalars(w, cls, obj, pending):
    for field in _schema(cls):
        value = getattr(obj, field.attr)
        if isinstance(field, U32):
            w.u32(int(value or 0))
        elif isinstance(field, GUID):
            w.guid(value if value is not None else uuid.UUID(int=0))
        elif isinstance(field, (WSTR, SID)):
            w.ptr(value is not None)
            pending.append((field, value))
        elif isinstance(field, USTR):
            if value is None:
                w.u16(0)
                w.u16(0)
                w.ptr(False)
            else:
                length = len(value.encode('utf-16-le', 'surrogatepass'))
                maximum = w.hint('ustr_max', length) or length + 2
                w.u16(length)
                w.u16(maximum)
                w.ptr(True)
                value = (value, maximum)
            pending.append((field, value))
        elif isinstance(field, (BYTES, NESTED)):
            data = _payload_bytes(value) if isinstance(field, NESTED) else value
            w.u32(0 if data is None else len(data))
            w.ptr(data is not None)
            pending.append((field, data))
        elif isinstance(field, ARRAY):
            w.u32(0 if value is None else len(value))
            w.ptr(value is not None)
            pending.append((field, value))
        elif isinstance(field, EMBED):
            sub_pending = []
            w.align(4)
            _write_scalars(w, field.cls, value, sub_pending)
            pending.append((field, sub_pending))


def _write_buffers(w, cls, pending):
    for field, value in pending:
        if isinstance(field, EMBED):
            _write_buffers(w, field.cls, value)
        elif value is None:
            continue
        elif isinstance(field, WSTR):
            encoded = (value + '\x00').encode('utf-16-le', 'surrogatepass')
            actual = len(encoded) // 2
            w.u32(w.hint('wstr_max', actual) or actual)
            w.u32(0)
            w.u32(actual)
            w.buf.extend(encoded)
        elif isinstance(field, USTR):
            text, maximum = value
            encoded = text.encode('utf-16-le', 'surrogatepass')
            w.u32(maximum // 2)
            w.u32(0)
            w.u32(len(encoded) // 2)
            w.buf.extend(encoded)
        elif isinstance(field, SID):
            revision, authority, subs = sid_from_str(value)
            w.u32(len(subs))
            w.u8(revision)
            w.u8(len(subs))
            w.buf.extend(authority.to_bytes(6, 'big'))
            for sub in subs:
                w.u32(sub)
        elif isinstance(field, (BYTES, NESTED)):
            w.u32(len(value))
            w.buf.extend(value)
        elif isinstance(field, ARRAY):
            w.u32(len(value))
            staged = []
            for item in value:
                sub_pending = []
                w.align(4)
                _write_scalars(w, field.cls, item, sub_pending)
                staged.append(sub_pending)
            for sub_pending in staged:
                _write_buffers(w, field.cls, sub_pending)


def _payload_bytes(value):
    if value is None:
        return None
    if isinstance(value, RawPayload):
        return value.data
    return encode_type1(value)


# ---------------------------------------------------------------- type-1 envelope

def decode_type1(data, cls, base=0):
    """Decode a complete type-1 serialization of ``[unique] cls *``."""
    structure = cls.__name__
    if len(data) < HEADER_LEN:
        raise OdjFormatError('%d bytes, too short for a type serialization header' % len(data), base, structure,
                             'a 16-byte header')
    if data[:4] != HEADER[:4]:
        raise OdjFormatError('bad type serialization header %s' % data[:4].hex(), base, structure,
                             '01 10 08 00 (version 1, little-endian, header length 8)')
    if data[4:8] != HEADER[4:8]:
        raise OdjFormatError('bad header filler %s' % data[4:8].hex(), base + 4, structure, 'cc cc cc cc')
    body_len, reserved = struct.unpack_from('<II', data, 8)
    if reserved != 0:
        raise OdjFormatError('non-zero reserved header field', base + 12, structure, '0')
    if body_len % 8:
        raise OdjFormatError('body length %d is not a multiple of 8' % body_len, base + 8, structure, 'a multiple of 8')
    if body_len != len(data) - HEADER_LEN:
        raise OdjFormatError('header says %d body bytes but %d follow' % (body_len, len(data) - HEADER_LEN),
                             base + 8, structure, 'the body length to match the data')
    layout = Layout()
    r = _Reader(memoryview(data)[HEADER_LEN:], base + HEADER_LEN, structure, layout)
    top = r.u32(structure + ' referent id')
    if top == 0:
        r.fail('NULL top-level pointer', 'a non-zero referent id', 0)
    layout.top_ref = top
    obj = _read_struct_body(r, cls)
    tail = r.data[r.pos:]
    if len(tail) >= 8:
        r.fail('%d bytes left over after the structure' % len(tail), 'at most 7 bytes of padding')
    if any(tail):
        r.fail('non-zero body padding', 'zero bytes')
    obj._layout = layout
    return obj


def encode_type1(obj):
    """Encode obj (a schema class instance) as a complete type-1 serialization."""
    layout = getattr(obj, '_layout', None)
    w = _Writer(layout)
    w.u32(layout.top_ref if layout else FIRST_REFERENT)
    pending = []
    _write_scalars(w, type(obj), obj, pending)
    _write_buffers(w, type(obj), pending)
    w.align(8)
    return HEADER + struct.pack('<II', len(w.buf), 0) + bytes(w.buf)
