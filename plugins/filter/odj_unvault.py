# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_unvault
short_description: Decrypt a vault-encrypted offline domain join package into unattend/API base64 text
version_added: 0.1.0
description:
  - Takes the content of a package file encrypted with Ansible Vault (as M(winimage.provisioning.odj_provision)
    writes it with its C(vault_password) option), decrypts it in memory with the given password and returns
    the package as one line of base64 of the raw package - the form the C(data) option of
    M(winimage.provisioning.odj_install) takes.
  - The plaintext inside the vault may be any of the three package forms (raw, base64 text, C(djoin /savefile) file);
    it is detected and the package is decoded and checked before it is returned.
  - The input may also be the base64 of the file bytes, as M(ansible.builtin.slurp) returns them.
  - The result carries the machine password in clear text; use it only in C(no_log) tasks. Error messages never
    contain the package or the password.
author:
  - winimage.provisioning contributors
options:
  _input:
    description: The vault-encrypted package file content (text starting with C($ANSIBLE_VAULT)), or its base64.
    type: str
    required: true
  secret:
    description: The vault password the package was encrypted with.
    type: str
    required: true
seealso:
  - plugin: winimage.provisioning.odj_convert
    plugin_type: filter
  - module: winimage.provisioning.odj_install
'''

EXAMPLES = r'''
- name: Read the encrypted package on the provisioner
  ansible.builtin.slurp:
    src: /var/lib/winimage/odj-packages/KIOSK07.djoin
  delegate_to: provisioner1
  register: encrypted
  no_log: true

- name: Install it without ever writing it in clear text
  winimage.provisioning.odj_install:
    data: "{{ encrypted.content | winimage.provisioning.odj_unvault(odj_vault_password) }}"
    image: /srv/images/kiosk07
  no_log: true
'''

RETURN = r'''
_value:
  description: The package as one line of base64 of the raw package (holds the machine password).
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64


def odj_unvault(value, secret):
    """Vault-encrypted package file -> one-line base64 of the raw package."""
    if not isinstance(secret, (str, bytes)) or not secret:
        raise AnsibleFilterError('odj_unvault: the vault password (secret) must be a non-empty string')
    if not isinstance(value, (str, bytes)):
        raise AnsibleFilterError('odj_unvault: expected the package file content as a string, not %s' % type(value).__name__)
    data = value.encode('utf-8', 'surrogateescape') if isinstance(value, str) else value
    vault = VaultLib([('odj', VaultSecret(to_bytes(secret)))])
    try:
        loaded = load_package(data=data, vault_decrypt=vault.decrypt, where='the input')
    except PackageLoadError as exc:
        raise AnsibleFilterError('odj_unvault: %s' % exc)
    if not loaded.vaulted:
        raise AnsibleFilterError('odj_unvault: the input is not an Ansible Vault encrypted package file')
    return to_base64(loaded.raw)


class FilterModule(object):
    """Vault-encrypted offline domain join packages."""

    def filters(self):
        return {'odj_unvault': odj_unvault}
