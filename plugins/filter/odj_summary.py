# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_summary
short_description: What each stage of a rollout did to each machine, as a table and counts
version_added: 0.1.0
description:
  - Takes the machine plan of the playbook C(winimage.provisioning.rollout) (one entry per machine with C(name),
    C(image), C(image_index), C(method), C(provisioner), C(requester) and C(target) host names) and the
    variables of those hosts, and returns one row per machine with the status each stage reported, the failures
    with their reasons, counts and the lines of a table.
  - Reads only the secret-free result facts the roles set, C(provisioner_results) (provisioner role),
    C(requester_results) and C(requester_preflight_results) (requester role) and C(target_results) (target role).
  - A machine counts as provisioned, installed or verified exactly when it is not listed as failed at that
    stage, so the counts and the failure list always agree, whatever status a stage reports (V(created),
    V(reused), V(unchanged), V(would create) ...).
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The machine plan, a list of dicts (C(name), C(image), C(image_index), C(method), C(provisioner),
      C(requester), C(target)).
    type: list
    elements: dict
    required: true
  hostvars:
    description: The variables of every host (pass C(hostvars)); each provisioner and requester host is read once.
    type: dict
    required: true
  check_mode:
    description: Whether the run is a check-mode run (pass C(ansible_check_mode)); copied into the result.
    type: bool
    default: false
seealso:
  - plugin: winimage.provisioning.odj_results
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Collect what happened to every machine
  ansible.builtin.set_fact:
    rollout_summary: "{{ rollout_plan | winimage.provisioning.odj_summary(hostvars, ansible_check_mode) }}"

- name: Show it
  ansible.builtin.debug:
    msg: "{{ rollout_summary.lines }}"
'''

RETURN = r'''
_value:
  description: The summary.
  type: dict
  contains:
    machines:
      description: One row per machine with C(name), C(image), C(method), C(provisioned), C(installed),
        C(preflight), C(after_boot) (statuses, V(no result) when a host reported nothing) and C(msg).
      type: list
      elements: dict
    failed:
      description: "C(NAME: stage reason) for each machine that failed, at the first stage it failed."
      type: list
      elements: str
    counts:
      description: C(machines), C(provisioned), C(installed), C(verified), C(failed).
      type: dict
    after_boot_note:
      description: One line about the after-boot stage.
      type: str
    check_mode:
      description: The O(check_mode) given.
      type: bool
    lines:
      description: The table, a blank line, the counts line, the after-boot note and the failures, for display.
      type: list
      elements: str
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

NO_RESULT = 'no result'
# Stage statuses that mean "this stage did not do its part for the machine".
NOT_PROVISIONED = frozenset(('failed', NO_RESULT))
NOT_INSTALLED = frozenset(('failed', 'skipped', NO_RESULT))
COLUMNS = (('name', 'MACHINE'), ('image', 'IMAGE'), ('method', 'METHOD'), ('provisioned', 'PROVISIONED'),
           ('installed', 'INSTALLED'), ('preflight', 'PRE-FLIGHT'), ('after_boot', 'AFTER BOOT'))


def _host_vars(hostvars, host):
    """The variables of one host, or an empty mapping for a host the inventory does not know."""
    try:
        found = hostvars[host]
    except (KeyError, TypeError):
        return {}
    return found if isinstance(found, Mapping) else {}


def _by_name(results):
    return dict((r.get('name'), r) for r in results or [] if isinstance(r, Mapping))


def image_label(image, index):
    """The image as the table shows it: the path, then ' #N' for an image of a .wim."""
    return '%s%s' % (image, (' #%s' % index) if index is not None and index != '' else '')


def first_failure(name, provisioner, requester, prov, inst, pre, target, after, after_msg):
    """'NAME: stage reason' for the first stage that failed the machine, or None."""
    prov_status = prov.get('status', NO_RESULT)
    if prov_status in NOT_PROVISIONED:
        return '%s: provisioning %s' % (name, prov.get('msg') or 'no result from %s (host failed or unreachable)' % provisioner)
    inst_status = inst.get('status', NO_RESULT)
    if inst_status in ('failed', NO_RESULT):
        return '%s: install %s' % (name, inst.get('msg') or 'no result from %s (host failed or unreachable)' % requester)
    pre_status = pre.get('status', NO_RESULT)
    if pre_status in ('failed', NO_RESULT):
        return '%s: pre-flight %s' % (name, pre.get('msg') or 'no result from %s (host failed or unreachable)' % requester)
    if target and after == 'failed':
        return '%s: after boot %s' % (name, after_msg)
    return None


def table(rows):
    """Left-aligned columns under a header, two spaces apart; the last column is not padded."""
    header = dict(COLUMNS)
    every = [header] + list(rows)
    keys = [key for key, _title in COLUMNS]
    widths = dict((key, max(len(str(r.get(key, ''))) for r in every)) for key in keys)
    lines = []
    for row in every:
        cells = [str(row.get(key, '')) for key in keys]
        lines.append('  '.join([cell.ljust(widths[key]) for key, cell in zip(keys[:-1], cells[:-1])] + cells[-1:]))
    return lines


def odj_summary(plan, hostvars, check_mode=False):
    """The rollout summary of the machine plan, from the result facts the roles left in hostvars."""
    if not isinstance(plan, (list, tuple)):
        raise AnsibleFilterError('odj_summary: the input must be the machine plan (a list), not %s' % type(plan).__name__)
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('odj_summary: hostvars must be a mapping of host name to variables')
    prov, inst, pre, method = {}, {}, {}, {}
    for host in set(m.get('provisioner') for m in plan):
        prov[host] = _by_name(_host_vars(hostvars, host).get('provisioner_results'))
    for host in set(m.get('requester') for m in plan):
        hv = _host_vars(hostvars, host)
        inst[host] = _by_name(hv.get('requester_results'))
        pre[host] = _by_name(hv.get('requester_preflight_results'))
        method[host] = hv.get('requester_method') or 'registry'

    rows, failed, targets = [], [], []
    for m in plan:
        name = m['name']
        p = prov[m.get('provisioner')].get(name, {})
        i = inst[m.get('requester')].get(name, {})
        v = pre[m.get('requester')].get(name, {})
        target = m.get('target')
        if target:
            targets.append(name)
            a = _host_vars(hostvars, target).get('target_results') or {}
            after = a.get('status', 'skipped') if a else 'skipped'
            after_msg = a.get('msg', 'not reached (no WinRM/PSRP connection, or the host failed)')
        else:
            after, after_msg = 'skipped', 'not a Windows target in the inventory'
        messages = [x for x in (p.get('msg'), i.get('msg'), v.get('msg')) if x]
        rows.append({
            'name': name,
            'image': image_label(m.get('image', ''), m.get('image_index')),
            'method': m.get('method') or method[m.get('requester')],
            'provisioned': p.get('status', NO_RESULT),
            'installed': i.get('status', NO_RESULT),
            'preflight': v.get('status', NO_RESULT),
            'after_boot': after,
            'msg': messages[0] if messages else (after_msg if target else ''),
        })
        failure = first_failure(name, m.get('provisioner'), m.get('requester'), p, i, v, target, after, after_msg)
        if failure:
            failed.append(failure)

    if not targets:
        note = 'after-boot stage skipped: no Windows targets in the inventory (group targets is empty)'
    else:
        after = [r['after_boot'] for r in rows if r['name'] in targets]
        note = ('after-boot stage: %d target(s): %d joined, %d failed, %d skipped (no WinRM/PSRP connection yet, '
                'or odj_after_boot false)' % (len(targets), after.count('joined'), after.count('failed'), after.count('skipped')))
    counts = {
        'machines': len(rows),
        'provisioned': sum(1 for r in rows if r['provisioned'] not in NOT_PROVISIONED),
        'installed': sum(1 for r in rows if r['installed'] not in NOT_INSTALLED),
        'verified': sum(1 for r in rows if r['preflight'] == 'ok'),
        'failed': len(failed),
    }
    lines = table(rows) + [
        '',
        'machines %(machines)d, provisioned %(provisioned)d, installed %(installed)d, verified %(verified)d, '
        'failed %(failed)d' % counts,
        note,
    ] + failed
    return {'machines': rows, 'failed': failed, 'counts': counts, 'after_boot_note': note,
            'check_mode': bool(check_mode), 'lines': lines}


class FilterModule(object):
    """Rollout summary filter."""

    def filters(self):
        return {'odj_summary': odj_summary}
