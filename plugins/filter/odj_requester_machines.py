# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_requester_machines
short_description: The machines of a rollout plan as the requester role takes them
version_added: 0.1.0
description:
  - Turns entries of the rollout plan (as P(winimage.provisioning.odj_plan#filter) builds them) into the machine
    dicts of the C(winimage.provisioning.requester) role's C(requester_machines) - C(name), C(image), C(image_index)
    and C(method), leaving out keys whose value is V(null) so that the role's defaults apply.
  - With O(hostvars), each machine also names where its package comes from - C(source_host) (the machine's
    provisioner host) and C(source_dir) (that host's C(odj_store_dir), default V(/var/lib/winimage/odj-packages)).
    The variables of each provisioner host are read once, not once per machine.
  - Holds no secret and reads no package.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: Rollout plan entries (dicts with at least C(name), C(image) and, with O(hostvars), C(provisioner)).
    type: list
    elements: dict
    required: true
  hostvars:
    description:
      - The variables of every host (pass C(hostvars)). When given, each machine gains C(source_host) and
        C(source_dir). When left out, the machines name no source.
    type: dict
  default_store_dir:
    description: Store folder of a provisioner host that sets no C(odj_store_dir).
    type: str
    default: /var/lib/winimage/odj-packages
seealso:
  - plugin: winimage.provisioning.odj_plan
    plugin_type: filter
  - plugin: winimage.provisioning.odj_package_sources
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Install the packages of the machines whose images are on this host
  ansible.builtin.include_role:
    name: winimage.provisioning.requester
  vars:
    requester_machines: >-
      {{ hostvars['localhost'].rollout_plan | selectattr('requester', 'equalto', inventory_hostname)
         | winimage.provisioning.odj_requester_machines(hostvars) }}

# Only the machine keys, without a source
- name: Machines without a source
  ansible.builtin.debug:
    msg: "{{ rollout_plan | winimage.provisioning.odj_requester_machines }}"
'''

RETURN = r'''
_value:
  description:
    - One dict per plan entry, in the same order, with those of C(name), C(image), C(image_index) and C(method) that
      are not V(null); with O(hostvars), also C(source_host) and C(source_dir).
  type: list
  elements: dict
  sample: [{"name": "KIOSK07", "image": "/srv/images/kiosk07", "source_host": "prov1",
            "source_dir": "/var/lib/winimage/odj-packages"}]
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.winimage.provisioning.plugins.filter.odj_summary import _host_vars

MACHINE_KEYS = ('name', 'image', 'image_index', 'method')
DEFAULT_STORE_DIR = '/var/lib/winimage/odj-packages'


def odj_requester_machines(plan, hostvars=None, default_store_dir=DEFAULT_STORE_DIR):
    """Rollout plan entries -> the requester role's machine dicts (see DOCUMENTATION)."""
    if plan is None:
        plan = []
    if isinstance(plan, (str, Mapping)) or not hasattr(plan, '__iter__'):
        raise AnsibleFilterError('odj_requester_machines: the plan must be a list of dicts, not %s'
                                 % type(plan).__name__)
    if hostvars is not None and not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('odj_requester_machines: hostvars must be a mapping of host name to variables')
    store_dirs = {}
    out = []
    for entry in plan:
        if not isinstance(entry, Mapping) or not entry.get('name'):
            raise AnsibleFilterError('odj_requester_machines: each plan entry must be a dict with a name, got %r'
                                     % (entry,))
        machine = dict((k, entry[k]) for k in MACHINE_KEYS if entry.get(k) is not None)
        if hostvars is not None:
            host = entry.get('provisioner')
            if not host:
                raise AnsibleFilterError('odj_requester_machines: machine %s names no provisioner host'
                                         % entry['name'])
            if host not in store_dirs:
                store_dirs[host] = _host_vars(hostvars, host).get('odj_store_dir') or default_store_dir
            machine.update(source_host=host, source_dir=store_dirs[host])
        out.append(machine)
    return out


class FilterModule(object):
    """Rollout plan -> requester machines."""

    def filters(self):
        return {'odj_requester_machines': odj_requester_machines}
