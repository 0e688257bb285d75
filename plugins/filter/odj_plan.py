# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_plan
short_description: The machine plan of a rollout from a machine list, an AWX survey and the targets group
version_added: 0.1.0
description:
  - Builds one entry per machine with C(name) (upper case), C(image), C(image_index), C(method), C(provisioner),
    C(requester) and C(target), as the playbook C(winimage.provisioning.rollout) and the
    P(winimage.provisioning.odj_summary#filter) filter use it.
  - Machines come from three places, in this order; the input (the variable C(odj_machines) of the rollout, names or
    dicts with C(name), C(image), C(image_index), C(method), C(provisioner), C(requester)); the AWX survey form
    O(names) and O(images); and the hosts of the group C(targets), whose variables C(odj_machine_name),
    C(odj_image), C(odj_image_index), C(odj_method), C(odj_provisioner) and C(odj_requester) are read.
  - Does not check the plan; the playbook refuses machines listed twice or without an image.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: Machines given as a list (the rollout's C(odj_machines)); names or dicts.
    type: list
    elements: raw
    required: true
  hostvars:
    description: The variables of every host (pass C(hostvars)); read for the hosts of the group C(targets) only.
    type: dict
    default: {}
  groups:
    description: The inventory groups (pass C(groups)).
    type: dict
    default: {}
  names:
    description:
      - AWX survey form, machine names. A text with one name per line, or a list.
    type: raw
    default: []
  images:
    description:
      - AWX survey form, images in the order of O(names), one per line (text) or a list. C(PATH#INDEX) selects an
        image of a C(.wim). A single line holding C({name}) applies to every machine, with the name put in.
    type: raw
    default: []
  provisioner:
    description: Provisioner host of the machines that name none. Default the first host of C(provisioners), else C(localhost).
    type: str
  requester:
    description: Requester host of the machines that name none. Default the first host of C(requesters), else C(localhost).
    type: str
seealso:
  - plugin: winimage.provisioning.odj_summary
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Build the machine list
  ansible.builtin.set_fact:
    rollout_plan: >-
      {{ odj_machines | default([]) | winimage.provisioning.odj_plan(hostvars, groups,
           names=odj_machine_names | default([]), images=odj_image_paths | default([])) }}
'''

RETURN = r'''
_value:
  description: One dict per machine with C(name), C(image), C(image_index), C(method), C(provisioner), C(requester)
    and C(target) (the inventory host of a machine of the group C(targets), else V(null)).
  type: list
  elements: dict
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _lines(value):
    """A survey text (one item a line) or a list, as trimmed non-empty strings."""
    if value is None:
        return []
    items = value.split('\n') if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def _entry(name, image, image_index, method, provisioner, requester, target):
    return {'name': str(name).upper(), 'image': image if image is not None else '', 'image_index': image_index,
            'method': method, 'provisioner': provisioner, 'requester': requester, 'target': target}


def survey_machines(names, images):
    """(name, image, image_index) per survey name; one image line with {name} applies to every machine."""
    names, images = _lines(names), _lines(images)
    out = []
    for at, name in enumerate(names):
        if len(images) == 1 and '{name}' in images[0]:
            path = images[0].replace('{name}', name)
        else:
            path = images[at] if at < len(images) else ''
        image, _sep, index = path.partition('#')
        out.append((name, image, index if '#' in path else None))
    return out


def odj_plan(machines, hostvars=None, groups=None, names=None, images=None, provisioner=None, requester=None):
    """The rollout's machine plan (see DOCUMENTATION)."""
    hostvars = hostvars if isinstance(hostvars, Mapping) else {}
    groups = groups if isinstance(groups, Mapping) else {}
    if machines is None:
        machines = []
    if isinstance(machines, (str, Mapping)) or not hasattr(machines, '__iter__'):
        raise AnsibleFilterError('odj_plan: the machines must be a list of names or dicts, not %s'
                                 % type(machines).__name__)
    prov = provisioner or (list(groups.get('provisioners') or []) or ['localhost'])[0]
    req = requester or (list(groups.get('requesters') or []) or ['localhost'])[0]
    plan = []
    for machine in machines:
        if not isinstance(machine, Mapping):
            machine = {'name': machine}
        if not machine.get('name'):
            raise AnsibleFilterError('odj_plan: a machine without a name: %r' % (dict(machine),))
        plan.append(_entry(machine['name'], machine.get('image'), machine.get('image_index'), machine.get('method'),
                           machine.get('provisioner') or prov, machine.get('requester') or req, None))
    for name, image, index in survey_machines(names, images):
        plan.append(_entry(name, image, index, None, prov, req, None))
    for host in groups.get('targets') or []:
        try:
            hv = hostvars[host]
        except KeyError:
            hv = {}
        plan.append(_entry(hv.get('odj_machine_name') or host.split('.')[0], hv.get('odj_image'),
                           hv.get('odj_image_index'), hv.get('odj_method'), hv.get('odj_provisioner') or prov,
                           hv.get('odj_requester') or req, host))
    return plan


class FilterModule(object):
    """Rollout plan filter."""

    def filters(self):
        return {'odj_plan': odj_plan}
