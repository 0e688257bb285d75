# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline-join decisions, made once for the Linux modules and the Windows action plugins.

* :func:`same_join`: do two joins name the same machine in the same domain?
  Machine names compare as Windows compares NetBIOS names (case-insensitive,
  without the trailing ``$`` of the account name); a domain compares by any of
  its names (DNS name without the trailing dot, NetBIOS name), case-insensitive.
* :func:`decide_install`: what installing a package does to a target that may
  already hold a pending join (an offline image or the running system).
* :func:`decide_provision`: what provisioning into a package file that may
  already exist does (``win_odj_provision``).
* :func:`provision_option_problems`: the ``NETSETUP_PROVISION_*`` combinations
  ``NetCreateProvisioningPackage`` cannot honour.
* :func:`judge_join`: has a booted machine completed its join (``win_odj_join_info``)?

Pure: no I/O, no AnsibleModule. Callers pass what they read.
"""

from __future__ import annotations

import collections

UNCHANGED = 'unchanged'
INSTALL = 'install'
PROVISION = 'provision'

Decision = collections.namedtuple('Decision', ['action', 'reason'])


class JoinConflict(ValueError):
    """The target holds the join of another machine or domain, and force was not given."""


# ---------------------------------------------------------------- same join

def machine_key(name):
    """A NetBIOS machine name as Windows compares it: upper case, no blanks, no trailing ``$``."""
    return (name or '').strip().rstrip('$').upper()


def domain_keys(*names):
    """The set of comparable names of a domain: lower case, no trailing dot, empties dropped."""
    out = set()
    for name in names:
        if isinstance(name, (list, tuple, set, frozenset)):
            out |= domain_keys(*name)
            continue
        key = (name or '').strip().rstrip('.').lower()
        if key:
            out.add(key)
    return out


def package_join(pd):
    """(machine name, domain names) of a decoded package: its DNS domain, NetBIOS domain and the domain it names."""
    w7 = pd.win7
    info = w7.dns_domain_info
    names = [w7.domain]
    if info is not None:
        names += [info.dns_domain_name, info.name]
    return w7.machine_name, domain_keys(names)


def pending_join(pending):
    """(machine name, domain names) of a ``image.registry.read_pending`` state."""
    return pending.get('machine_name'), domain_keys(pending.get('domain'), pending.get('netbios_domain'))


def same_join(machine, domains, other_machine, other_domains):
    """True when both name the same machine and share a name of their domain.

    domains / other_domains: one name or several (DNS and NetBIOS names of the same domain).
    Empty machine names or domains never match.
    """
    left, right = machine_key(machine), machine_key(other_machine)
    if not left or left != right:
        return False
    return bool(domain_keys(domains) & domain_keys(other_domains))


def describe_join(machine, domains):
    names = sorted(domain_keys(domains), key=lambda n: (-n.count('.'), n))
    return '%s in %s' % (machine_key(machine) or '?', names[0] if names else '?')


# ---------------------------------------------------------------- install

def decide_install(pending, package, secret_same, force=False, joined=None):
    """Decision('unchanged' | 'install', reason) for installing a package; JoinConflict when another join is pending.

    pending: the target's pending join as (machine, domains), or None when none is pending.
    package: the package's (machine, domains) (``package_join``).
    secret_same: the pending join holds this package's machine password.
    joined: for the running system, (machine, domains) it is joined as, or None.

    ``force`` replaces another machine's pending join; it never reinstalls what is already there:
    the same join with the same password is unchanged with or without it.
    """
    machine, domains = package
    wanted = describe_join(machine, domains)
    if pending is None:
        if joined is not None and same_join(machine, domains, joined[0], joined[1]):
            return Decision(UNCHANGED, 'the system is already joined as %s' % wanted)
        return Decision(INSTALL, 'no offline join is pending')
    if same_join(machine, domains, pending[0], pending[1]):
        if secret_same:
            return Decision(UNCHANGED, 'the offline join of %s is already pending with this package' % wanted)
        return Decision(INSTALL, 'an offline join of %s is pending with a different machine password (an older '
                                 'package); the new package replaces it' % wanted)
    found = describe_join(pending[0], pending[1])
    if force:
        return Decision(INSTALL, 'the pending join of %s is replaced by %s (force)' % (found, wanted))
    raise JoinConflict('a different offline join is already pending: %s (the package is for %s); set force=true to '
                       'replace it' % (found, wanted))


# ---------------------------------------------------------------- provision (win_odj_provision)

def decide_provision(existing, machine, domain, force=False, exists=None):
    """Decision('unchanged' | 'provision', reason) for a package file; JoinConflict when it holds something else.

    existing: the (machine, domains) of the package the file holds, or None when the file does not exist
    or holds no package (then ``exists`` says whether there is a file at all).
    A file with the same machine's package is kept (Windows cannot tell from the file whether its
    password still authenticates; force provisions again, resetting the password).
    A file holding anything else is only replaced with force.
    """
    wanted = describe_join(machine, domain)
    if existing is None and not exists:
        return Decision(PROVISION, 'no package file yet')
    if force:
        return Decision(PROVISION, 'force: a new package for %s replaces the file' % wanted)
    if existing is None:
        raise JoinConflict('the file holds no provisioning package; set force=true to replace it with a package for %s'
                           % wanted)
    if same_join(machine, domain, existing[0], existing[1]):
        return Decision(UNCHANGED, 'the file already holds a package for %s' % wanted)
    raise JoinConflict('the file holds the package of %s, not %s; set force=true to replace it'
                       % (describe_join(existing[0], existing[1]), wanted))


# ---------------------------------------------------------------- provisioning options

def provision_option_problems(options, domain_server=None, machine_account_ou=None, certificate_templates=()):
    """(errors, warnings) about NETSETUP_PROVISION_* choices (option names of win_odj_provision).

    options: the boolean options given (reuse_account, skip_account_search, provision_root_ca_certs,
    downlevel_priv_support, ...).
    """
    errors, warnings = [], []
    if options.get('skip_account_search') and not domain_server:
        errors.append('skip_account_search needs domain_server: without searching for the account, Windows must be told '
                      'which domain controller to create it on')
    if options.get('downlevel_priv_support') and machine_account_ou:
        errors.append('downlevel_priv_support cannot be combined with machine_account_ou: it makes a package for domain '
                      'controllers older than Windows Server 2008 R2, which create the account in the default container')
    if options.get('provision_root_ca_certs') and certificate_templates:
        warnings.append('provision_root_ca_certs is ignored when certificate_templates are given: the templates already '
                        'bring the root CA certificates of the provisioning host into the package')
    return errors, warnings


# ---------------------------------------------------------------- a booted machine's join (win_odj_join_info)

EVENT_JOIN_OK = 4098     # System log: the offline join completed at first boot
EVENT_JOIN_FAILED = 4099  # System log: the offline join failed at first boot
JOINED = 'joined'
FAILED = 'failed'


def judge_join(computer, pending, events, domain=None, machine=None):
    """(status 'joined' | 'failed', message) of a booted machine.

    computer: {'name', 'domain', 'part_of_domain'} (Win32_ComputerSystem); pending: the pending offline join
    (``image.registry.read_pending``) or None; events: [{'id', 'time', 'message'}], newest first;
    domain / machine: what the machine should be (None: any).
    """
    last = events[0] if events else {}
    member = bool(computer.get('part_of_domain'))
    actual = computer.get('domain') or ''
    wanted_domain = domain or actual
    in_domain = member and bool(domain_keys(actual) & domain_keys(wanted_domain))
    if in_domain and machine and machine_key(computer.get('name')) != machine_key(machine):
        return FAILED, 'member of %s as %s, expected %s' % (actual, machine_key(computer.get('name')), machine_key(machine))
    if in_domain and last.get('id') != EVENT_JOIN_FAILED:
        when = (', event %s at %s' % (last['id'], last.get('time'))) if last else ''
        return JOINED, 'member of %s%s' % (actual, when)
    if member and not in_domain:
        return FAILED, 'member of %s, expected %s' % (actual, domain)
    if last.get('id') == EVENT_JOIN_FAILED:
        text = (last.get('message') or '')[:300]
        return FAILED, 'event %d (offline join failed) at %s: %s' % (EVENT_JOIN_FAILED, last.get('time'), text)
    if pending is not None:
        return FAILED, ('the offline join of %s is still pending: the machine has not completed its first boot with '
                        'the image' % describe_join(*pending_join(pending)))
    return FAILED, 'not part of a domain and no offline join pending (was the package installed into the image it booted?)'
