# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry hive header checks, dirty-hive detection and transaction-log replay.

Windows writes a hive lazily: changes go first to ``<hive>.LOG1`` / ``.LOG2``
and the base block's primary sequence number is bumped before the hive itself
is updated; the secondary number follows once the hive is consistent again.
Primary != secondary means the file on disk misses changes that only the logs
hold ("dirty"). Writing into such a hive without replaying the logs first, and
then letting Windows replay the stale logs over the edited file at boot, can
lose the edit or corrupt the hive.

Replay uses regipy's ``regipy.recovery.apply_transaction_logs`` (HvLE and DIRT
logs); the result gets equal sequence numbers and a fresh header checksum, so
it is a clean hive any reader (libhivex included) accepts.
"""

from __future__ import annotations

import os
import struct

REGF_MAGIC = b'regf'
HBIN_MAGIC = b'hbin'
BASE_BLOCK = 4096


class HiveFormatError(ValueError):
    """The file is not a usable registry hive (message names the file and the defect)."""


class DirtyHiveError(Exception):
    """The hive is dirty and cannot (or may not) be made clean."""


def header_checksum(block):
    value = 0
    for (word,) in struct.iter_unpack('<I', bytes(block[:508])):
        value ^= word
    if value == 0xFFFFFFFF:
        value = 0xFFFFFFFE
    elif value == 0:
        value = 1
    return value


def read_header(path):
    """Parse the base block; HiveFormatError when it is not a regf hive."""
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as handle:
            block = handle.read(BASE_BLOCK)
            first_bin = handle.read(32)
    except OSError as exc:
        raise HiveFormatError('%s: cannot be read: %s' % (path, exc.strerror or exc))
    if len(block) < 512 or block[:4] != REGF_MAGIC:
        raise HiveFormatError('%s is not a registry hive (no "regf" signature at the start)' % path)
    if len(block) < BASE_BLOCK:
        raise HiveFormatError('%s is truncated: %d bytes, shorter than the 4096-byte base block' % (path, size))
    seq1, seq2 = struct.unpack_from('<II', block, 4)
    major, minor, htype, hformat, root, hbins = struct.unpack_from('<IIIIII', block, 20)
    stored = struct.unpack_from('<I', block, 508)[0]
    name = block[48:112].decode('utf-16-le', 'replace').split('\x00')[0]
    info = {
        'path': path, 'size': size, 'primary_sequence': seq1, 'secondary_sequence': seq2,
        'dirty': seq1 != seq2, 'major': major, 'minor': minor, 'type': htype, 'format': hformat,
        'root_offset': root, 'hbins_size': hbins, 'file_name': name,
        'checksum_ok': stored == header_checksum(block),
    }
    if not info['checksum_ok']:
        raise HiveFormatError('%s: the base block checksum is wrong (corrupted hive header)' % path)
    if major != 1:
        raise HiveFormatError('%s: unsupported hive format version %d.%d' % (path, major, minor))
    if htype != 0:
        raise HiveFormatError('%s: is a transaction log or alternate file (type %d), not a primary hive' % (path, htype))
    if first_bin[:4] != HBIN_MAGIC:
        raise HiveFormatError('%s: no hive bin after the base block (corrupted or truncated hive)' % path)
    if size < BASE_BLOCK + hbins:
        raise HiveFormatError('%s is truncated: the header declares %d bytes of hive bins, the file holds %d'
                              % (path, hbins, size - BASE_BLOCK))
    return info


def find_logs(path):
    """The transaction logs beside a hive: list of existing paths, LOG1 then LOG2 (any case)."""
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path).lower()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for suffix in ('.log1', '.log2'):
        for name in names:
            if name.lower() == base + suffix:
                found.append(os.path.join(folder, name))
                break
    return found


def _usable_log(path):
    try:
        with open(path, 'rb') as handle:
            head = handle.read(516)
    except OSError:
        return False
    return len(head) >= 516 and head[:4] == REGF_MAGIC and head[512:516] in (b'HvLE', b'DIRT')


def replay(path, out_path, logs=None):
    """Apply the transaction logs to a copy of the hive written at out_path.

    Returns the number of recovered pages. The hive at path is not modified.
    """
    from regipy.recovery import apply_transaction_logs  # imported lazily: only needed for dirty hives

    if logs is None:
        logs = find_logs(path)
    hive_secondary = read_header(path)['secondary_sequence']
    usable = []
    for log in logs:
        if not _usable_log(log):
            continue
        with open(log, 'rb') as handle:
            log_seq = struct.unpack('<I', handle.read(8)[4:8])[0]
        # A log whose base block is older than the hive's secondary sequence number holds
        # changes already in the hive (or superseded): replaying it would go back in time.
        if log_seq >= hive_secondary:
            usable.append((log_seq, log))
    if not usable:
        raise DirtyHiveError('%s: no usable transaction log (.LOG1/.LOG2 with sequence number >= %d) to replay'
                             % (path, hive_secondary))
    usable.sort()
    primary = usable[-1][1]
    secondary = usable[0][1] if len(usable) > 1 else None
    try:
        # regipy applies the secondary (older) log first, then the primary one.
        _restored, pages = apply_transaction_logs(path, primary, secondary_log_path=secondary, restored_hive_path=out_path)
    except Exception as exc:  # regipy raises its own exceptions and construct errors
        raise DirtyHiveError('%s: replaying the transaction logs failed: %s' % (path, exc))
    with open(out_path, 'r+b') as handle:
        block = bytearray(handle.read(BASE_BLOCK))
        seq1 = struct.unpack_from('<I', block, 4)[0]
        struct.pack_into('<I', block, 8, seq1)
        struct.pack_into('<I', block, 508, header_checksum(block))
        handle.seek(0)
        handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(out_path, 0o600)
    read_header(out_path)
    return pages


DIRTY_NO_LOG_MESSAGE = (
    '%s is dirty (primary sequence number %d, secondary %d): Windows did not finish writing it and the changes '
    'that are missing from the file live only in its transaction logs (%s.LOG1/.LOG2), which are not beside it. '
    'Writing into it now would build on an inconsistent hive, and if the logs exist elsewhere Windows would replay '
    'them over the edit at boot. Copy the logs next to the hive to have them replayed, or set allow_dirty '
    '(accept the risk: the pending log changes are lost and the hive is written back clean).'
)


def prepare(path, work_path, allow_dirty=False):
    """Decide how to read a hive before writing it.

    Returns a dict: ``source`` (the path to load: the hive itself, or work_path
    holding the replayed clean copy), ``dirty``, ``replayed_pages``, ``logs``
    (the log files consumed) and ``header``.
    """
    header = read_header(path)
    state = {'source': path, 'dirty': header['dirty'], 'replayed_pages': 0, 'logs': [], 'header': header,
             'dirty_accepted': False}
    if not header['dirty']:
        return state
    logs = [log for log in find_logs(path) if _usable_log(log)]
    if logs:
        state['replayed_pages'] = replay(path, work_path, logs)
        state['source'] = work_path
        state['logs'] = logs
        return state
    if not allow_dirty:
        raise DirtyHiveError(DIRTY_NO_LOG_MESSAGE % (path, header['primary_sequence'], header['secondary_sequence'],
                                                     os.path.basename(path)))
    state['dirty_accepted'] = True
    return state
