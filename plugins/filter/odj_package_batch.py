# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_package_batch
short_description: The machines whose offline domain join package is at hand
version_added: 0.1.0
description:
  - Keeps, in input order, the machines of the C(winimage.provisioning.requester) role whose package is at hand - held
    in memory or in a store on this host (O(at_hand), as P(winimage.provisioning.odj_package_sources#filter) found
    them), or whose encrypted file was read from another host (O(reads), the registered result of the
    M(ansible.builtin.slurp) loop; a failed or skipped read does not count).
  - The result is the order of the C(installs) option of M(winimage.provisioning.odj_install) (see
    P(winimage.provisioning.odj_installs#filter)) and of its per-item results.
  - Only machine dicts leave this filter, never a package.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The machines to install (dicts with at least C(name)).
    type: list
    elements: dict
    required: true
  at_hand:
    description: Names of the machines whose package is in memory or in a store on this host.
    type: list
    elements: str
    default: []
  reads:
    description: The registered result of the loop that read the encrypted package files (C(results), each with C(item.name)).
    type: dict
    default: {}
seealso:
  - plugin: winimage.provisioning.odj_package_sources
    plugin_type: filter
  - plugin: winimage.provisioning.odj_installs
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Select the machines whose package is at hand
  ansible.builtin.set_fact:
    requester_batch: >-
      {{ requester_todo | winimage.provisioning.odj_package_batch(requester_sources.memory + requester_sources.local,
           requester_packages | default({})) }}
'''

RETURN = r'''
_value:
  description: The input machines whose package is at hand, in input order, unchanged.
  type: list
  elements: dict
'''

from collections.abc import Mapping

from ansible_collections.winimage.provisioning.plugins.filter.odj_package_sources import check_machines


def read_results(reads):
    """{machine name: slurp result} of the reads that succeeded."""
    results = reads.get('results') if isinstance(reads, Mapping) else None
    out = {}
    for r in results or []:
        if not isinstance(r, Mapping) or r.get('failed') or r.get('skipped'):
            continue
        item = r.get('item')
        if isinstance(item, Mapping) and item.get('name'):
            out[item['name']] = r
    return out


def odj_package_batch(machines, at_hand=None, reads=None):
    """The machines whose package is at hand, in order (see DOCUMENTATION)."""
    machines = check_machines(machines, 'odj_package_batch')
    names = set(at_hand or []) | set(read_results(reads))
    return [m for m in machines if m['name'] in names]


class FilterModule(object):
    """Requester batch."""

    def filters(self):
        return {'odj_package_batch': odj_package_batch}
