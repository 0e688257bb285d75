# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_installs
short_description: The installs option of odj_install for a batch of machines (holds the packages)
version_added: 0.1.0
description:
  - Builds the O(winimage.provisioning.odj_install#module:installs) option of M(winimage.provisioning.odj_install)
    for the batch of the C(winimage.provisioning.requester) role, one entry per machine in the same order. Where
    each package comes from is decided by the lists below.
  - A machine in O(memory) takes C(data) from the registered result C(provisioner_run) of its source host
    (the variables of each source host are read once);
  - A machine in O(local) takes C(package), the path of the encrypted file in its store
    (C(source_dir)/C(NAME)O(suffix)), which M(winimage.provisioning.odj_install) decrypts in memory with its
    C(vault_password);
  - Any other machine takes C(data) decrypted in memory from its read in O(reads) with O(vault_password)
    (as P(winimage.provisioning.odj_unvault#filter) does).
  - Each entry also carries C(image), C(method), C(unattend_pass), C(backup), C(force), C(allow_dirty),
    C(skip_unsupported_parts) (the machine's own value, else the option of the same name), and C(architecture)
    and C(image_index) when the machine sets them.
  - B(The result holds machine passwords in clear text) - use it only as the option of a C(no_log) task, never in a
    fact, a debug message or a file. Error messages name the machine and never contain a package.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The batch (P(winimage.provisioning.odj_package_batch#filter)), dicts with C(name) and C(image).
    type: list
    elements: dict
    required: true
  hostvars:
    description: The variables of every host (pass C(hostvars)); C(provisioner_run) of the source hosts of O(memory) machines is read.
    type: dict
    required: true
  inventory_hostname:
    description: This requester host (pass C(inventory_hostname)).
    type: str
    required: true
  memory:
    description:
      - Names of the machines whose package a provisioner role run returned (the C(memory) list of
        P(winimage.provisioning.odj_package_sources#filter)).
    type: list
    elements: str
    default: []
  local:
    description:
      - Names of the machines whose store is on this host (the C(local) list of
        P(winimage.provisioning.odj_package_sources#filter)).
    type: list
    elements: str
    default: []
  reads:
    description: The registered result of the loop that read the encrypted package files of the other machines.
    type: dict
    default: {}
  vault_password:
    description: The vault password the package files are encrypted with; needed for the machines read from O(reads).
    type: str
  source_host:
    description: Source host of the machines that name no C(source_host). Empty means O(inventory_hostname).
    type: str
    default: ''
  source_dir:
    description: Store folder of the machines that name no C(source_dir).
    type: str
    default: /var/lib/winimage/odj-packages
  suffix:
    description: File name suffix of a package file in a store.
    type: str
    default: .djoin.vault
  method:
    description: Install method of the machines that name none.
    type: str
    default: registry
  unattend_pass:
    description: Unattend pass of the machines that name none.
    type: str
    default: offlineServicing
  backup:
    description: Whether odj_install keeps a backup of what it changes (every machine).
    type: bool
    default: false
  force:
    description: C(force) of the machines that name none.
    type: bool
    default: false
  allow_dirty:
    description: C(allow_dirty) of the machines that name none.
    type: bool
    default: false
  skip_unsupported_parts:
    description: C(skip_unsupported_parts) of the machines that name none.
    type: bool
    default: false
seealso:
  - plugin: winimage.provisioning.odj_package_batch
    plugin_type: filter
  - plugin: winimage.provisioning.odj_unvault
    plugin_type: filter
  - module: winimage.provisioning.odj_install
'''

EXAMPLES = r'''
- name: Install the packages into the images (one batch)
  winimage.provisioning.odj_install:
    installs: >-
      {{ requester_batch | winimage.provisioning.odj_installs(hostvars, inventory_hostname,
           memory=requester_sources.memory, local=requester_sources.local, reads=requester_packages | default({}),
           vault_password=requester_vault_password, method=requester_method) }}
    vault_password: "{{ requester_vault_password }}"
  no_log: true
'''

RETURN = r'''
_value:
  description:
    - One dict per batch machine, in order, with C(data) or C(package) and the install options of the machine.
    - Holds machine passwords in clear text.
  type: list
  elements: dict
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.winimage.provisioning.plugins.filter.odj_package_batch import read_results
from ansible_collections.winimage.provisioning.plugins.filter.odj_package_sources import (
    check_machines, returned_packages, source_host_of)
from ansible_collections.winimage.provisioning.plugins.filter.odj_unvault import odj_unvault


def _own(machine, key, default):
    value = machine.get(key)
    return default if value is None else value


def _flag(name, key, value):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError('odj_installs: %s of machine %s must be a boolean, got %r' % (key, name, value)) from None


def odj_installs(batch, hostvars, inventory_hostname, memory=None, local=None, reads=None, vault_password=None,
                 source_host='', source_dir='/var/lib/winimage/odj-packages', suffix='.djoin.vault',
                 method='registry', unattend_pass='offlineServicing', backup=False, force=False, allow_dirty=False,
                 skip_unsupported_parts=False):
    """The installs option of odj_install (see DOCUMENTATION). Holds packages: no_log use only."""
    batch = check_machines(batch, 'odj_installs')
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('odj_installs: hostvars must be a mapping of host name to variables')
    memory, local = set(memory or []), set(local or [])
    read = read_results(reads)
    returned = {}
    out = []
    for m in batch:
        name = m['name']
        if name in memory:
            host = source_host_of(m, source_host, inventory_hostname)
            if host not in returned:
                returned[host] = returned_packages(hostvars, host)
            if str(name).upper() not in returned[host]:
                raise AnsibleFilterError('odj_installs: the provisioner run on %s returned no package for machine %s'
                                         % (host, name))
            entry = {'data': returned[host][str(name).upper()]}
        elif name in local:
            entry = {'package': '%s/%s%s' % (m.get('source_dir') or source_dir, str(name).upper(), suffix)}
        elif name in read:
            if not vault_password:
                raise AnsibleFilterError('odj_installs: vault_password is needed to decrypt the package of machine %s'
                                         % name)
            try:
                entry = {'data': odj_unvault(read[name].get('content') or '', vault_password)}
            except AnsibleFilterError as exc:
                raise AnsibleFilterError('odj_installs: machine %s: %s' % (name, exc.message)) from None
        else:
            raise AnsibleFilterError('odj_installs: no package at hand for machine %s' % name)
        entry.update({
            'image': m.get('image'),
            'method': _own(m, 'method', method),
            'unattend_pass': _own(m, 'unattend_pass', unattend_pass),
            'backup': _flag(name, 'backup', backup),
            'force': _flag(name, 'force', _own(m, 'force', force)),
            'allow_dirty': _flag(name, 'allow_dirty', _own(m, 'allow_dirty', allow_dirty)),
            'skip_unsupported_parts': _flag(name, 'skip_unsupported_parts',
                                            _own(m, 'skip_unsupported_parts', skip_unsupported_parts)),
        })
        if m.get('architecture'):
            entry['architecture'] = m['architecture']
        if m.get('image_index') is not None:
            entry['image_index'] = str(m['image_index'])
        out.append(entry)
    return out


class FilterModule(object):
    """The installs option of odj_install."""

    def filters(self):
        return {'odj_installs': odj_installs}
