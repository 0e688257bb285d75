# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_results
short_description: One secret-free outcome per machine from a provisioning, install or pre-flight task result
version_added: 0.1.0
description:
  - Turns the registered result of one batch task of the roles into a list with one entry per machine asked
    for, in the order asked, each with C(name), C(status), C(msg) and details. The roles publish these lists as
    the facts C(provisioner_results), C(requester_results) and C(requester_preflight_results).
  - O(stage=provision) reads a result of M(winimage.provisioning.odj_provision); a machine the module reports as
    V(conflict), V(invalid) or V(failed), or does not report at all, is V(failed) with the reason in C(msg);
    other statuses are kept with spaces for underscores (V(created), V(reused), V(unchanged), V(would create) ...).
  - O(stage=install) reads a result of M(winimage.provisioning.odj_install) with O(batch) (the machines given to it,
    in the order of its C(installs)); statuses V(installed), V(unchanged), V(would install), V(skipped) (in
    O(skip)) and V(failed).
  - O(stage=preflight) reads a result of M(winimage.provisioning.odj_verify_secret) (and optionally of
    M(winimage.provisioning.odj_image_info) in O(image_info)); statuses V(ok) (the secret in the image
    authenticates as C(NAME$)), V(failed) and V(skipped).
  - Never copies a package or a password, only statuses, module messages and names.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The registered result of the task (may be empty or skipped when nothing was run).
    type: dict
    required: true
  stage:
    description: Which task the result comes from.
    type: str
    choices: [provision, install, preflight]
    required: true
  machines:
    description:
      - The machines asked for. Names (O(stage=provision)) or dicts with C(name), C(image) and optionally
        C(image_index), C(method), C(source_host), C(source_dir).
    type: list
    elements: raw
    required: true
  batch:
    description:
      - O(stage=install) the names of the machines given to the module, in the order of its C(installs).
      - O(stage=preflight) the names of the machines whose image was checked, in the order of its C(images).
    type: list
    elements: str
    default: []
  skip:
    description: Names to report as V(skipped) (nothing to install, or nothing installed to check).
    type: list
    elements: str
    default: []
  pending:
    description: O(stage=install) names whose package only a check-mode run would create (V(would install)).
    type: list
    elements: str
    default: []
  reads:
    description:
      - O(stage=install) the registered result of the loop that read package files from other hosts
        (M(ansible.builtin.slurp)); a failed read makes the machine V(failed) naming the file and host.
    type: dict
    default: {}
  image_info:
    description: O(stage=preflight) the registered result of M(winimage.provisioning.odj_image_info) for O(batch).
    type: dict
    default: {}
  method:
    description: O(stage=install) the install method of the machines that name none.
    type: str
    default: registry
  source:
    description:
      - O(stage=install) where package files are read when a machine names none, for messages only; a dict with
        C(host), C(dir) and C(suffix).
    type: dict
    default: {}
  check_mode:
    description: Whether the run is in check mode (pass C(ansible_check_mode)).
    type: bool
    default: false
seealso:
  - plugin: winimage.provisioning.odj_summary
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Provision a batch
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: "{{ names }}"
    dest: /var/lib/winimage/odj-packages
  register: run
  ignore_errors: true

- name: One outcome per machine
  ansible.builtin.set_fact:
    outcome: "{{ run | winimage.provisioning.odj_results('provision', names) }}"
'''

RETURN = r'''
_value:
  description:
    - One dict per machine of O(machines), in that order, with C(name), C(status), C(changed) (provision,
      install), C(msg) and the stage's details (C(dn), C(path) for provision; C(image), C(method) for install;
      C(image), C(account), C(source), C(location) for a pre-flight that passed).
  type: list
  elements: dict
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import STATUS_FAILED


def _dict(value):
    return value if isinstance(value, Mapping) else {}


def _name(machine):
    return machine if isinstance(machine, str) else machine['name']


def _image(machine):
    index = machine.get('image_index')
    return '%s%s' % (machine.get('image', ''), (' #%s' % index) if index is not None and index != '' else '')


def provision_results(run, machines):
    """Entries of the provisioner role from an odj_provision result."""
    outcomes = dict((str(o.get('name', '')).upper(), o) for o in run.get('machines') or [] if isinstance(o, Mapping))
    out = []
    for machine in machines:
        name = _name(machine).upper()
        o = outcomes.get(name)
        if not o:
            entry = {'status': 'failed', 'changed': False, 'msg': run.get('msg') or 'no outcome reported'}
        elif o.get('status') in STATUS_FAILED:
            entry = {'status': 'failed', 'changed': False, 'msg': '%s: %s' % (o['status'], o.get('msg', ''))}
        else:
            entry = {'status': str(o.get('status', '')).replace('_', ' '), 'changed': bool(o.get('changed', False)),
                     'msg': o.get('msg', ''), 'dn': o.get('dn', ''), 'path': o.get('path', '')}
        out.append(dict({'name': name}, **entry))
    return out


def _by_item_name(loop_result):
    found = {}
    for r in _dict(loop_result).get('results') or []:
        item = _dict(_dict(r).get('item'))
        if 'name' in item:
            found.setdefault(item['name'], r)
    return found


def install_results(run, machines, batch, skip, pending, reads, method, source, check_mode):
    """Entries of the requester role from an odj_install result (installs in the order of batch)."""
    runs = run.get('results') or []
    read_by = _by_item_name(reads)
    out = []
    for machine in machines:
        name = machine['name']
        base = {'name': name, 'image': _image(machine), 'method': machine.get('method') or method}
        rd = read_by.get(name, {})
        at = batch.index(name) if name in batch else -1
        if 0 <= at < len(runs):
            r = _dict(runs[at])
        elif at >= 0 and run.get('failed'):
            r = {'failed': True, 'msg': run.get('msg') or 'install failed'}
        else:
            r = {}
        if name in skip:
            entry = {'status': 'skipped', 'changed': False, 'msg': 'not provisioned'}
        elif name in pending:
            entry = {'status': 'would install', 'changed': True, 'msg': 'package not made yet (check mode)'}
        elif rd.get('failed'):
            where = machine.get('source_host') or source.get('host') or 'this host'
            path = '%s/%s%s' % (machine.get('source_dir') or source.get('dir', ''), name.upper(), source.get('suffix', ''))
            entry = {'status': 'failed', 'changed': False,
                     'msg': 'package file %s cannot be read on %s: %s' % (path, where, rd.get('msg') or 'unknown error')}
        elif r.get('failed'):
            entry = {'status': 'failed', 'changed': False, 'msg': r.get('error') or r.get('msg') or 'install failed'}
        elif r.get('changed'):
            entry = {'status': 'would install' if check_mode else 'installed', 'changed': True, 'msg': ''}
        elif not r or r.get('skipped'):
            entry = {'status': 'failed', 'changed': False, 'msg': 'not run'}
        else:
            entry = {'status': 'unchanged', 'changed': False, 'msg': ''}
        out.append(dict(base, **entry))
    return out


def preflight_results(verify, machines, batch, skip, image_info, check_mode):
    """Entries of the pre-flight from odj_verify_secret (and odj_image_info) results of the images of batch."""
    infos = image_info.get('results') or []
    checks = {}
    for check in verify.get('results') or []:
        check = _dict(check)
        if check.get('machine_name'):
            checks.setdefault(str(check['machine_name']).upper(), check)
    batch_msg = verify.get('msg') or 'not verified'
    out = []
    for machine in machines:
        name = machine['name']
        at = batch.index(name) if name in batch else -1
        info = _dict(infos[at]) if 0 <= at < len(infos) else {}
        check = checks.get(name.upper(), {})
        pending = _dict(_dict(info.get('registry')).get('pending'))
        if name in skip:
            entry = {'status': 'skipped', 'msg': 'check mode: nothing installed yet' if check_mode else 'nothing installed'}
        elif info.get('failed'):
            entry = {'status': 'failed', 'msg': 'cannot read the image: %s' % (info.get('error') or info.get('msg', ''))}
        elif check.get('authenticated'):
            entry = {'status': 'ok', 'msg': '', 'account': check.get('account', ''), 'source': check.get('source', ''),
                     'location': pending.get('location') or _dict(check.get('state')).get('location', '')}
        else:
            entry = {'status': 'failed', 'msg': check.get('msg') or batch_msg}
        out.append(dict({'name': name, 'image': _image(machine)}, **entry))
    return out


def odj_results(result, stage, machines, batch=None, skip=None, pending=None, reads=None, image_info=None,
                method='registry', source=None, check_mode=False):
    """One entry per machine of a role's batch task result (see DOCUMENTATION)."""
    result = _dict(result)
    if not isinstance(machines, (list, tuple)):
        raise AnsibleFilterError('odj_results: machines must be a list, not %s' % type(machines).__name__)
    batch, skip, pending = list(batch or []), list(skip or []), list(pending or [])
    if stage == 'provision':
        return provision_results(result, machines)
    for machine in machines:
        if not isinstance(machine, Mapping) or 'name' not in machine:
            raise AnsibleFilterError('odj_results: stage %s needs machines as dicts with a name, got %r' % (stage, machine))
    if stage == 'install':
        return install_results(result, machines, batch, skip, pending, _dict(reads), method or 'registry',
                               _dict(source), bool(check_mode))
    if stage == 'preflight':
        return preflight_results(result, machines, batch, skip, _dict(image_info), bool(check_mode))
    raise AnsibleFilterError("odj_results: stage must be one of provision, install, preflight, not %r" % (stage,))


class FilterModule(object):
    """Per-machine outcome filter of the roles."""

    def filters(self):
        return {'odj_results': odj_results}
