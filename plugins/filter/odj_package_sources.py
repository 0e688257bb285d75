# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_package_sources
short_description: Where the requester role takes each machine's package from
version_added: 0.1.0
description:
  - Sorts the machines of the C(winimage.provisioning.requester) role by where their offline domain join package is,
    the rule of the role's runbook, checked in this order.
  - V(memory) - the provisioner role ran on the machine's source host in this playbook run and its registered result
    C(provisioner_run) holds the machine's package (M(winimage.provisioning.odj_provision) with C(return_package));
    only when O(use_provisioner_result) is true.
  - V(local) - the package store is on this requester host (the machine names no C(source_host), or this host);
    M(winimage.provisioning.odj_install) reads and decrypts the file itself.
  - V(remote) - the store is on another host; the role reads the encrypted file there.
  - The source host of a machine is its C(source_host), else O(source_host), else O(inventory_hostname).
    The variables of each source host are read once, not once per machine.
  - Only machine names leave this filter, never a package.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The machines to install (dicts with at least C(name); C(source_host) optional).
    type: list
    elements: dict
    required: true
  hostvars:
    description: The variables of every host (pass C(hostvars)); only C(provisioner_run) of source hosts is read.
    type: dict
    required: true
  inventory_hostname:
    description: This requester host (pass C(inventory_hostname)).
    type: str
    required: true
  source_host:
    description: Source host of the machines that name none (the role's C(requester_source_host)). Empty means O(inventory_hostname).
    type: str
    default: ''
  use_provisioner_result:
    description: Whether packages held in memory by a provisioner role run count (the role's C(requester_use_provisioner_result)).
    type: bool
    default: true
seealso:
  - plugin: winimage.provisioning.odj_package_batch
    plugin_type: filter
  - plugin: winimage.provisioning.odj_installs
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Find where each package is
  ansible.builtin.set_fact:
    requester_sources: >-
      {{ requester_todo | winimage.provisioning.odj_package_sources(hostvars, inventory_hostname,
           source_host=requester_source_host, use_provisioner_result=requester_use_provisioner_result) }}

- name: Read the encrypted package files of stores on other hosts
  ansible.builtin.slurp:
    src: "{{ item.source_dir }}/{{ item.name | upper }}.djoin.vault"
  loop: "{{ requester_todo | selectattr('name', 'in', requester_sources.remote) | list }}"
  delegate_to: "{{ item.source_host }}"
  register: requester_packages
  no_log: true
'''

RETURN = r'''
_value:
  description: The machine names (as given), in input order, by source. Each machine is in exactly one list.
  type: dict
  contains:
    memory:
      description: Machines whose package a provisioner role run returned in this playbook run.
      type: list
      elements: str
    local:
      description: Machines whose package store is on this host.
      type: list
      elements: str
    remote:
      description: Machines whose package store is on another host.
      type: list
      elements: str
  sample: {"memory": ["KIOSK07"], "local": [], "remote": ["KIOSK08"]}
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.winimage.provisioning.plugins.filter.odj_summary import _host_vars as host_vars


def source_host_of(machine, source_host, inventory_hostname):
    """The host whose store (or provisioner run) holds a machine's package."""
    return machine.get('source_host') or source_host or inventory_hostname


def returned_packages(hostvars, host):
    """{UPPER NAME: package} of the machines a provisioner run on host returned with a package."""
    run = host_vars(hostvars, host).get('provisioner_run') or {}
    machines = run.get('machines') if isinstance(run, Mapping) else None
    return dict((str(m.get('name')).upper(), m['package']) for m in machines or []
                if isinstance(m, Mapping) and m.get('package'))


def check_machines(machines, who):
    if machines is None:
        return []
    if isinstance(machines, (str, Mapping)) or not hasattr(machines, '__iter__'):
        raise AnsibleFilterError('%s: the machines must be a list of dicts, not %s' % (who, type(machines).__name__))
    machines = list(machines)
    for m in machines:
        if not isinstance(m, Mapping) or not m.get('name'):
            raise AnsibleFilterError('%s: each machine must be a dict with a name' % who)
    return machines


def odj_package_sources(machines, hostvars, inventory_hostname, source_host='', use_provisioner_result=True):
    """Machine names by package source: memory, local, remote (see DOCUMENTATION)."""
    machines = check_machines(machines, 'odj_package_sources')
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('odj_package_sources: hostvars must be a mapping of host name to variables')
    if not inventory_hostname:
        raise AnsibleFilterError('odj_package_sources: inventory_hostname must be given')
    use_memory = boolean(use_provisioner_result, strict=False)
    returned = {}
    out = {'memory': [], 'local': [], 'remote': []}
    for m in machines:
        host = source_host_of(m, source_host, inventory_hostname)
        if use_memory and host not in returned:
            returned[host] = set(returned_packages(hostvars, host))
        if use_memory and str(m['name']).upper() in returned[host]:
            out['memory'].append(m['name'])
        elif host == inventory_hostname:
            out['local'].append(m['name'])
        else:
            out['remote'].append(m['name'])
    return out


class FilterModule(object):
    """Package sources of the requester role."""

    def filters(self):
        return {'odj_package_sources': odj_package_sources}
