# -*- coding: utf-8 -*-
"""Helpers for the requester's integration tests: real hives into image folders, exports, packages."""

import hashlib
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys


def run_command(argv, data=None, env=None):
    """The command runner the engine uses outside a module (modules pass AnsibleModule.run_command)."""
    proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, **(env or {})), check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _install_default_runner():
    from ansible_collections.winimage.provisioning.plugins.module_utils.image import access as _image
    _image.set_default_runner(run_command)


_install_default_runner()

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, 'scripts', 'make-sample-image')
SYSTEM_REL = os.path.join('Windows', 'System32', 'config', 'SYSTEM')


def unpack(shared_dir, name, dest_path):
    """Decompress fixtures/hives/<name>.xz to dest_path (never touches the fixture)."""
    os.makedirs(os.path.dirname(dest_path), exist_ok=True)
    with lzma.open(os.path.join(shared_dir, 'fixtures', 'hives', name + '.xz')) as fin, open(dest_path, 'wb') as fout:
        shutil.copyfileobj(fin, fout)
    return dest_path


def image_with_hive(shared_dir, hive_name, folder):
    """An image folder whose Windows/System32/config/SYSTEM is the named real hive."""
    path = os.path.join(str(folder), SYSTEM_REL)
    unpack(shared_dir, hive_name, path)
    os.makedirs(os.path.join(str(folder), 'Windows', 'Panther'), exist_ok=True)
    return str(folder), path


def sample_images(out, count=1, wim=False, unattend=False):
    args = [sys.executable, SAMPLE, '--out', str(out), '--count', str(count)]
    if wim:
        args.append('--wim')
    if unattend:
        args.append('--unattend')
    import json
    return json.loads(subprocess.run(args, stdout=subprocess.PIPE, check=True).stdout)


def package_bytes(shared_dir, name='samba-ou-kiosk07.djoin'):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', name), 'rb') as handle:
        return handle.read()


def sha(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def tree_hashes(folder):
    """{relative path: sha256} of every file below folder."""
    out = {}
    for root, _dirs, files in os.walk(str(folder)):
        for name in files:
            full = os.path.join(root, name)
            out[os.path.relpath(full, str(folder))] = sha(full)
    return out


_LINE = re.compile(r'^"((?:[^"\\]|\\.)*)"=(.*)$|^@=(.*)$')


def export(hive_path):
    """hivexregedit --export of the whole hive as {(lower key, lower value name or None): text}."""
    proc = subprocess.run(['hivexregedit', '--export', '--unsafe-printable-strings', hive_path, '\\'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    out = {}
    key = None
    for line in proc.stdout.decode('utf-8', 'surrogateescape').splitlines():
        if line.startswith('[') and line.endswith(']'):
            key = line[1:-1].lstrip('\\').lower()
            out[(key, None)] = ''
            continue
        match = _LINE.match(line)
        if match and key is not None:
            name = match.group(1) if match.group(1) is not None else ''
            text = match.group(2) if match.group(2) is not None else match.group(3)
            if name.lower() == 'currentvalue':
                # never keep (or show in a failure) a machine password: only its digest
                text = 'secret:' + hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()
            out[(key, name.lower())] = text
    return out


def secret_matches(hive_path, key, password):
    """hivexregedit's exact (hex) export of key's CurrentValue equals the UTF-16LE password plus NUL."""
    proc = subprocess.run(['hivexregedit', '--export', hive_path, '\\' + key],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    for line in proc.stdout.decode('ascii', 'replace').splitlines():
        if line.lower().startswith('"currentvalue"=hex(1):'):
            data = bytes(int(h, 16) for h in line.split(':', 1)[1].split(',') if h)
            return data == password.encode('utf-16-le') + b'\x00\x00'
    return False


def regedit_text(vtype, value):
    """How hivexregedit --unsafe-printable-strings shows a value we wrote."""
    if vtype == 1:
        return 'str(1):"%s"' % value.replace('"', '\\"')
    if vtype == 4:
        return 'dword:%08x' % value
    if vtype == 3:
        return 'hex(3):' + ','.join('%02x' % b for b in value)
    raise ValueError(vtype)


def make_dirty_with_log(clean_v1, changed_v2, primary_out, log_out, sequence=100):
    """Build a dirty hive and a HvLE .LOG1 from two versions of the same hive (both made by this project).

    primary_out holds v1's bins (padded to v2's size) with sequence numbers (sequence+1, sequence): Windows was
    interrupted; log_out holds one HvLE entry with v2's changed pages. Marvin32 entry hashes are left zero (regipy
    does not check them; Windows would) - this is a fixture for the replay code path, not for Windows.
    """
    with open(clean_v1, 'rb') as handle:
        v1 = bytearray(handle.read())
    with open(changed_v2, 'rb') as handle:
        v2 = bytearray(handle.read())
    if len(v1) < len(v2):
        v1 += b'\x00' * (len(v2) - len(v1))

    def checksum(block):
        value = 0
        for (word,) in struct.iter_unpack('<I', bytes(block[:508])):
            value ^= word
        return value if value not in (0, 0xFFFFFFFF) else (1 if value == 0 else 0xFFFFFFFE)

    base = bytearray(v1[:4096])
    struct.pack_into('<II', base, 4, sequence + 1, sequence)
    struct.pack_into('<I', base, 508, checksum(base))
    primary = bytes(base) + bytes(v1[4096:])
    pages = []
    for off in range(4096, len(v2), 4096):
        if v1[off:off + 4096] != v2[off:off + 4096]:
            pages.append((off - 4096, bytes(v2[off:off + 4096])))
    hbins = struct.unpack_from('<I', v2, 40)[0]
    refs = b''.join(struct.pack('<II', off, len(data)) for off, data in pages)
    body = b''.join(data for _off, data in pages)
    size = 40 + len(refs) + len(body)
    size = (size + 511) // 512 * 512
    entry = b'HvLE' + struct.pack('<IIIIIQQ', size, 0, sequence, hbins, len(pages), 0, 0) + refs + body
    entry += b'\x00' * (size - len(entry))
    log_base = bytearray(v2[:512])
    struct.pack_into('<II', log_base, 4, sequence, sequence)
    struct.pack_into('<I', log_base, 28, 6)  # file type: transaction log (new format)
    struct.pack_into('<I', log_base, 508, checksum(log_base))
    with open(primary_out, 'wb') as handle:
        handle.write(primary)
    with open(log_out, 'wb') as handle:
        handle.write(bytes(log_base) + entry)
    return len(pages)
