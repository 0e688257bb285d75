# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible Vault (format 1.1 / 1.2, AES256) for files a module writes and reads.

A module cannot import ``ansible.parsing.vault`` (AnsiballZ ships only
module_utils), so this is the documented vault envelope done with the
``cryptography`` package: PBKDF2-HMAC-SHA256 (10000 rounds, 32-byte salt) gives
the AES-256 key, the HMAC-SHA256 key and the CTR counter block; the plain text
is PKCS#7 padded, encrypted with AES-256-CTR and authenticated with
HMAC-SHA256; the envelope is ``$ANSIBLE_VAULT;1.1;AES256`` (``1.2`` with a vault
id) and the hexlified payload in 80-column lines. Files made here are read by
``ansible-vault``, ``copy`` (decrypt), the ``unvault`` lookup and VaultLib, and
files made by them are read here (tests check both ways).
"""

from __future__ import annotations

import binascii
import hmac
import os

HEADER = b'$ANSIBLE_VAULT'
_ITERATIONS = 10000


class VaultError(ValueError):
    """Not a vault, wrong password, damaged envelope or missing library (never contains the secret)."""


def is_vault(data):
    if isinstance(data, str):
        data = data.encode('utf-8', 'replace')
    return data.lstrip()[:len(HEADER)] == HEADER


def _secret_bytes(secret):
    if isinstance(secret, str):
        secret = secret.encode('utf-8')
    if not secret:
        raise VaultError('the vault password is empty')
    return secret


def _crypto():
    """The cryptography primitives, imported on first use (only vault users need them)."""
    try:
        # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.backends import default_backend
        from cryptography.hazmat.primitives import hashes, padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.hmac import HMAC
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    except ImportError:
        raise VaultError('vault encryption needs the cryptography Python package')
    return dict(backend=default_backend(), hashes=hashes, padding=padding, Cipher=Cipher, algorithms=algorithms,
                modes=modes, HMAC=HMAC, PBKDF2HMAC=PBKDF2HMAC)


def _derive(c, secret, salt):
    kdf = c['PBKDF2HMAC'](algorithm=c['hashes'].SHA256(), length=80, salt=salt, iterations=_ITERATIONS,
                          backend=c['backend'])
    derived = kdf.derive(secret)
    return derived[:32], derived[32:64], derived[64:80]


def encrypt(plaintext, secret, vault_id=None):
    """Vault text (bytes, ends with a newline) of plaintext (bytes)."""
    c = _crypto()
    secret = _secret_bytes(secret)
    if isinstance(plaintext, str):
        plaintext = plaintext.encode('utf-8')
    salt = os.urandom(32)
    key1, key2, iv = _derive(c, secret, salt)
    padder = c['padding'].PKCS7(c['algorithms'].AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = c['Cipher'](c['algorithms'].AES(key1), c['modes'].CTR(iv), c['backend']).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = c['HMAC'](key2, c['hashes'].SHA256(), c['backend'])
    mac.update(ciphertext)
    body = b'\n'.join([binascii.hexlify(salt), binascii.hexlify(mac.finalize()), binascii.hexlify(ciphertext)])
    body = binascii.hexlify(body)
    if vault_id and vault_id != 'default':
        header = b'$ANSIBLE_VAULT;1.2;AES256;' + vault_id.encode('utf-8')
    else:
        header = b'$ANSIBLE_VAULT;1.1;AES256'
    lines = [header] + [body[i:i + 80] for i in range(0, len(body), 80)]
    return b'\n'.join(lines) + b'\n'


def decrypt(data, secret):
    """Plain bytes of vault text; VaultError when it is not a vault, damaged, or the password is wrong."""
    c = _crypto()
    secret = _secret_bytes(secret)
    if isinstance(data, str):
        data = data.encode('utf-8')
    lines = data.strip().split(b'\n')
    header = lines[0].strip().split(b';')
    if header[0] != HEADER or len(header) < 3:
        raise VaultError('not Ansible Vault data (no $ANSIBLE_VAULT header)')
    if header[2].strip() != b'AES256':
        raise VaultError('unsupported vault cipher %s' % header[2].decode('ascii', 'replace'))
    try:
        body = binascii.unhexlify(b''.join(line.strip() for line in lines[1:]))
        salt_hex, mac_hex, cipher_hex = body.split(b'\n', 2)
        salt = binascii.unhexlify(salt_hex)
        expected = binascii.unhexlify(mac_hex)
        ciphertext = binascii.unhexlify(cipher_hex.strip())
    except (binascii.Error, ValueError):
        raise VaultError('the vault data is damaged (bad hex envelope)')
    key1, key2, iv = _derive(c, secret, salt)
    mac = c['HMAC'](key2, c['hashes'].SHA256(), c['backend'])
    mac.update(ciphertext)
    if not hmac.compare_digest(mac.finalize(), expected):
        raise VaultError('the vault password does not decrypt this data (HMAC mismatch)')
    decryptor = c['Cipher'](c['algorithms'].AES(key1), c['modes'].CTR(iv), c['backend']).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = c['padding'].PKCS7(c['algorithms'].AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise VaultError('the vault data is damaged (bad padding)')
