# -*- coding: utf-8 -*-
"""odj_provision in a fleet, against the real Samba DC: AWX relaunches with an empty store, runs at once, progress.

* a relaunch with an empty store re-provisions the accounts this collection made that no
  machine used, refuses (by name, with the reason) one a machine joined with, and keeps that
  machine's password working; reset_accounts_in_use resets it;
* two runs at once into one store, with overlapping names, both succeed (the store lock is
  taken before the accounts are looked up);
* two runs from two stores resetting the same accounts: the one whose passwords were
  replaced meanwhile reports those machines failed, never ok;
* dest is created 0700 when missing; check mode says it would be;
* a 60-machine batch reports ``n/60`` while it runs and its NetSetup log grows as machines finish.
* the provisioner role in check mode on a first run (no store folder yet): succeeds, says it would create, creates
  neither the folder nor an account.
"""

import json
import os
import re
import stat
import threading
import time

import ldap3
import pytest

from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator

from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import ACCOUNT_MARKER
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.task import (
    ARGUMENT_SPEC, SPEC_KWARGS, execute)

from test_odj_provision import (  # noqa: F401  pylint: disable=unused-import
    admin_ldap, client, client_for, kinit_ok, ldap_account, machines_of, password_of, provision, run_command)


def _store(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return str(path)


def _join(dc, name, operating_system='Windows 11 Enterprise'):
    """What a Windows machine writes to its own account when it first reaches a DC after the join."""
    conn = admin_ldap(dc)
    dn = ldap_account(dc, name)['dn']
    assert conn.modify(dn, {'operatingSystem': [(ldap3.MODIFY_REPLACE, [operating_system])],
                            'operatingSystemVersion': [(ldap3.MODIFY_REPLACE, ['10.0 (22631)'])]}), conn.result
    conn.unbind()


def test_new_accounts_carry_the_marker(samba_dc, client, tmp_path):
    machines_of(samba_dc, client, ['MARK01'], dest=_store(tmp_path, 's'))
    assert ldap_account(samba_dc, 'MARK01')['description'] == [ACCOUNT_MARKER.encode()]


def test_relaunch_with_an_empty_store(samba_dc, client, tmp_path, net_offlinejoin):
    names = ['RELA01', 'RELA02', 'RELA03']
    first = machines_of(samba_dc, client, names, dest=_store(tmp_path, 'job1'))
    assert [first[n].status for n in names] == ['created'] * 3
    joined = password_of(first['RELA02'].path)
    _join(samba_dc, 'RELA02')  # RELA02's package went into an image and that machine joined
    net_offlinejoin(samba_dc, 'RELAFOREIGN')  # an account some other tool made
    before = {n: ldap_account(samba_dc, n)['pwdlastset'] for n in ('RELA02', 'RELAFOREIGN')}

    # the relaunch: a new job, an empty store
    again = machines_of(samba_dc, client, names + ['RELAFOREIGN'], dest=_store(tmp_path, 'job2'))
    assert again['RELA01'].status == again['RELA03'].status == 'reused'
    assert 'not used by any machine yet' in again['RELA01'].msg
    for name in ('RELA01', 'RELA03'):
        assert again[name].verified is True
        assert kinit_ok(samba_dc, name, password_of(again[name].path), tmp_path)
    used = again['RELA02']
    assert used.status == 'conflict' and not used.changed and used.path is None
    assert 'RELA02$' in used.msg and 'in use' in used.msg and 'Windows 11 Enterprise' in used.msg
    assert 'reset_accounts_in_use' in used.msg
    foreign = again['RELAFOREIGN']
    assert foreign.status == 'conflict' and 'not made by winimage.provisioning' in foreign.msg
    assert 'reuse_account' in foreign.msg
    assert {n: ldap_account(samba_dc, n)['pwdlastset'] for n in before} == before
    assert kinit_ok(samba_dc, 'RELA02', joined, tmp_path)  # the machine in use keeps working
    # reuse_account does not reset an account in use either
    reuse = machines_of(samba_dc, client, ['RELA02'], dest=_store(tmp_path, 'job3'), reuse_account=True)
    assert reuse['RELA02'].status == 'conflict' and 'in use' in reuse['RELA02'].msg
    # check mode says the same, without a change
    checked = machines_of(samba_dc, client, names, dest=_store(tmp_path, 'job4'), check_mode=True)
    assert [checked[n].status for n in names] == ['would_reuse', 'conflict', 'would_reuse']
    assert kinit_ok(samba_dc, 'RELA02', joined, tmp_path)
    # only the explicit option resets it
    forced = machines_of(samba_dc, client, ['RELA02'], dest=_store(tmp_path, 'job5'), reset_accounts_in_use=True)
    assert forced['RELA02'].status == 'reused' and 'in use' in forced['RELA02'].msg
    assert kinit_ok(samba_dc, 'RELA02', password_of(forced['RELA02'].path), tmp_path)
    assert not kinit_ok(samba_dc, 'RELA02', joined, tmp_path)


def test_two_runs_at_once_into_one_store_both_succeed(samba_dc, tmp_path):
    """B starts while A holds the store lock and has decided; B's overlap must see A's accounts, not fail."""
    store = _store(tmp_path, 'shared')
    names_a = ['OVLP%02d' % i for i in range(6)]
    names_b = ['OVLP%02d' % i for i in range(3, 9)]
    client_a, client_b = client_for(samba_dc), client_for(samba_dc)
    outcome = {}

    def run_b():
        outcome['b'] = machines_of(samba_dc, client_b, names_b, dest=store)

    thread = threading.Thread(target=run_b)

    from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import Provisioner
    prov_a = Provisioner(client_a, samba_dc.dns_domain, dest=store)
    write_all = prov_a._write_all

    def start_b_then_write(writes):
        thread.start()
        time.sleep(1.5)  # B is at the lock by now (the old code had looked the accounts up before it)
        write_all(writes)
    prov_a._write_all = start_b_then_write
    try:
        machines_a = {m.name: m for m in prov_a.run(names_a)}
        thread.join(120)
    finally:
        client_a.close()
        client_b.close()
    machines_b = outcome['b']
    assert {n: machines_a[n].status for n in names_a} == dict((n, 'created') for n in names_a)
    assert {n: machines_b[n].status for n in names_b} == dict(
        (n, 'unchanged' if n in names_a else 'created') for n in names_b)
    for name in sorted(set(names_a) | set(names_b)):
        assert kinit_ok(samba_dc, name, password_of(os.path.join(store, name + '.djoin')), tmp_path)


def test_two_stores_resetting_the_same_accounts_the_loser_fails(samba_dc, client, tmp_path):
    names = ['RACE01', 'RACE02']
    machines_of(samba_dc, client, names, dest=_store(tmp_path, 'first'))
    store_a, store_b = _store(tmp_path, 'a'), _store(tmp_path, 'b')
    client_b = client_for(samba_dc)
    outcome = {}

    from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import Provisioner
    prov_a = Provisioner(client, samba_dc.dns_domain, dest=store_a, reuse_account=True)
    queue_check = prov_a._queue_check
    held = []

    def b_resets_in_between(machine, password):
        held.append((machine, password))
        if len(held) == len(names):  # A has written all its packages and checked none of them yet
            outcome['b'] = machines_of(samba_dc, client_b, names, dest=store_b, reuse_account=True)
            for written, new_password in held:
                queue_check(written, new_password)
    prov_a._queue_check = b_resets_in_between
    try:
        machines_a = {m.name: m for m in prov_a.run(names)}
    finally:
        client_b.close()
    for name in names:
        lost, won = machines_a[name], outcome['b'][name]
        assert (lost.status, lost.verified) == ('failed', False)
        assert 'changed by someone else' in lost.msg and name in lost.msg
        assert not os.path.exists(os.path.join(store_a, name + '.djoin'))  # no package that does not work
        assert (won.status, won.verified) == ('reused', True)
        assert kinit_ok(samba_dc, name, password_of(won.path), tmp_path)


def _params(dc, **kwargs):
    args = dict(domain=dc.dns_domain, domain_controller=dc.ip, validate_certs=False,
                domain_username='%s@%s' % (dc.admin_user, dc.realm), domain_password=dc.admin_password)
    args.update(kwargs)
    validator = ModuleArgumentSpecValidator(ARGUMENT_SPEC, SPEC_KWARGS['mutually_exclusive'], None,
                                            SPEC_KWARGS['required_one_of'], None, SPEC_KWARGS['required_by'])
    result = validator.validate(args)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def test_new_passwords_are_checked_by_their_key_version_and_a_stray_version_by_kerberos(samba_dc, client, tmp_path):
    """The check after the writes reads msDS-KeyVersionNumber: no Kerberos exchange while no one else wrote."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import Provisioner
    names = ['KVN01', 'KVN02', 'KVN03']
    tried = []
    real = client.verify_passwords

    def counting(checks, *args, **kwargs):
        tried.extend(check[2] for check in checks)
        return real(checks, *args, **kwargs)
    client.verify_passwords = counting
    made = Provisioner(client, samba_dc.dns_domain, dest=_store(tmp_path, 'one')).run(names)
    assert [(m.status, m.verified) for m in made] == [('created', True)] * 3
    assert tried == []  # versions 1, 1, 1: no other write after the adds
    again = Provisioner(client, samba_dc.dns_domain, dest=_store(tmp_path, 'two'), reuse_account=True)
    again.run(names[:1])
    assert tried == []  # a reset: the version read before it, plus one
    # another write of KVN02's password between this run's look-up and its reset: the version is one
    # more than expected, so the password is tried with Kerberos - it is this run's, so it authenticates
    prov = Provisioner(client, samba_dc.dns_domain, dest=_store(tmp_path, 'three'), reuse_account=True)
    queue_check = prov._queue_check

    def stray_write_first(machine, password):
        if machine.name == 'KVN02':
            machine.account = machine.account._replace(key_version=machine.account.key_version - 1)
        queue_check(machine, password)
    prov._queue_check = stray_write_first
    result = {m.name: m for m in prov.run(names[1:])}
    assert tried == ['KVN02$']
    assert (result['KVN02'].status, result['KVN02'].verified) == ('reused', True)
    assert (result['KVN03'].status, result['KVN03'].verified) == ('reused', True)
    assert kinit_ok(samba_dc, 'KVN02', password_of(result['KVN02'].path), tmp_path)


def test_dest_is_created_0700_and_check_mode_says_it_would_be(samba_dc, tmp_path):
    dest = tmp_path / 'new' / 'store'
    warnings = []
    params = _params(samba_dc, machines=['DESTNEW1'], dest=str(dest), netsetup_log=str(tmp_path / 'ns.log'))
    checked = execute(params, True, True, run_command, warnings.append)
    assert checked['dest_created'] is True and checked['changed'] is True
    assert checked['diff']['before']['dest'] == {str(dest): 'absent'}
    assert checked['machines'][0]['status'] == 'would_create'
    assert not (tmp_path / 'new').exists() and ldap_account(samba_dc, 'DESTNEW1') is None
    done = execute(params, False, False, run_command, warnings.append)
    assert done['dest_created'] is True and done['machines'][0]['status'] == 'created'
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o700
    again = execute(params, False, False, run_command, warnings.append)
    assert 'dest_created' not in again and not again['changed']
    assert warnings == []


def test_a_batch_reports_progress_and_logs_each_machine_as_it_finishes(samba_dc, tmp_path):
    log = tmp_path / 'netsetup.log'
    names = ['PROG%02d' % i for i in range(60)] + ['prog07', 'PROG11']  # duplicates count once
    seen = []

    def progress(text):
        lines = log.read_text().splitlines() if log.exists() else []
        seen.append((text, len(lines)))
    params = _params(samba_dc, machines=names, dest=_store(tmp_path, 'store'), netsetup_log=str(log))
    result = execute(params, False, False, run_command, lambda text: None, progress=progress)
    assert result['counts'] == {'created': 60}
    counts = [int(re.match(r'(\d+)/60 done, 0 failed$', text).group(1)) for text, _lines in seen]
    assert counts == sorted(counts) and counts[-1] == 60 and len(counts) >= 5
    # each report came with that many machines already in the log: it is written as they finish
    assert [lines for _text, lines in seen] == counts
    assert len(log.read_text().splitlines()) == 60


def test_small_batches_do_not_report_progress(samba_dc, tmp_path):
    seen = []
    params = _params(samba_dc, machines=['PROGSMALL1'], dest=_store(tmp_path, 'store'),
                     netsetup_log=str(tmp_path / 'ns.log'))
    execute(params, False, False, run_command, lambda text: None, progress=seen.append)
    assert seen == []


def test_playbook_prints_progress_while_it_runs_and_no_long_line(samba_dc, tmp_path, collections_root):
    from playbook import run_playbook
    tasks = [{'name': 'sixty machines', 'winimage.provisioning.odj_provision': {
        'domain': samba_dc.dns_domain, 'domain_controller': samba_dc.ip, 'validate_certs': False,
        'domain_username': '%s@%s' % (samba_dc.admin_user, samba_dc.realm),
        'domain_password': samba_dc.admin_password, 'netsetup_log': str(tmp_path / 'netsetup.log'),
        'machines': ['PLAYPROG%02d' % i for i in range(60)], 'dest': str(tmp_path / 'pkgs')}}]
    rc, output = run_playbook(collections_root, tmp_path, tasks, verbosity=1)
    assert rc == 0, output[-3000:]
    lines = output.splitlines()
    progress = [i for i, line in enumerate(lines)
                if re.match(r'odj_provision \[localhost\]: \d+/60 done, 0 failed$', line)]
    result = [i for i, line in enumerate(lines) if line.startswith('changed: [localhost]')]
    assert len(progress) >= 5 and len(result) == 1
    assert max(progress) < result[0]  # printed while the task ran, before its result
    assert lines[progress[-1]].endswith(' 60/60 done, 0 failed')
    assert max(len(line) for line in lines) < 2000  # -v shows the batch's result indented, not as one line


def test_provisioner_role_relaunch_with_an_empty_store(samba_dc, tmp_path, collections_root):
    """The AWX relaunch: the provisioner role again, a new empty store; one machine joined in between.

    Then a relaunch that re-images the joined machine on purpose: odj_reset_accounts_in_use (and
    odj_lock_timeout) given as extra variables reach odj_provision through the role.
    """
    import json
    from playbook import run_playbook

    def role_run(store, name, extra=None):
        results = tmp_path / ('%s.json' % name)
        tasks = [
            {'name': 'provisioner', 'ansible.builtin.include_role': {'name': 'winimage.provisioning.provisioner'},
             'vars': {'odj_domain': samba_dc.dns_domain, 'odj_domain_controller': samba_dc.ip,
                      'odj_validate_certs': False,
                      'odj_domain_username': '%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                      'odj_domain_password': samba_dc.admin_password, 'odj_vault_password': 'vault-%s' % name,
                      'odj_store_dir': str(tmp_path / store), 'provisioner_machines': ['ROLERL01', 'ROLERL02'],
                      **(extra or {})}},
            {'name': 'keep the results', 'ansible.builtin.copy': {
                'content': '{{ provisioner_results | to_json }}', 'dest': str(results), 'mode': '0600'}},
        ]
        rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=1)
        assert rc == 0, out[-3000:]
        return {item['name']: item for item in json.loads(results.read_text())}, out

    first, _out = role_run('job1', 'first')
    assert {n: first[n]['status'] for n in first} == {'ROLERL01': 'created', 'ROLERL02': 'created'}
    from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
    with open(str(tmp_path / 'job1' / 'ROLERL02.djoin.vault'), 'rb') as handle:
        joined = decode(_vault.decrypt(handle.read(), 'vault-first')).win7.machine_password
    _join(samba_dc, 'ROLERL02')
    again, _out = role_run('job2', 'again')
    assert again['ROLERL01']['status'] == 'reused'
    refused = again['ROLERL02']
    assert refused['status'] == 'failed' and refused['msg'].startswith('conflict: ')
    assert 'ROLERL02$' in refused['msg'] and 'in use' in refused['msg'] and 'reset_accounts_in_use' in refused['msg']
    assert kinit_ok(samba_dc, 'ROLERL02', joined, tmp_path)

    reset, _out = role_run('job3', 'reset', {'odj_reset_accounts_in_use': True, 'odj_lock_timeout': 30})
    assert {n: reset[n]['status'] for n in reset} == {'ROLERL01': 'reused', 'ROLERL02': 'reused'}
    assert 'reset_accounts_in_use although in use' in reset['ROLERL02']['msg']
    with open(str(tmp_path / 'job3' / 'ROLERL02.djoin.vault'), 'rb') as handle:
        new = decode(_vault.decrypt(handle.read(), 'vault-reset')).win7.machine_password
    assert new != joined
    assert kinit_ok(samba_dc, 'ROLERL02', new, tmp_path)
    assert not kinit_ok(samba_dc, 'ROLERL02', joined, tmp_path)  # the re-imaged machine needs the new package


def test_provisioner_role_check_mode_first_run_creates_nothing(samba_dc, tmp_path, collections_root):
    """The provisioner role with --check on a first run: the store folder does not exist yet.

    The play succeeds and reports what it would do (the store and the account), and creates neither; the same
    play without --check then creates both.
    """
    from playbook import run_playbook, task_results
    store = tmp_path / 'new' / 'store'
    names = ['ROLECHK01', 'ROLECHK02']
    tasks = [
        {'name': 'provisioner', 'ansible.builtin.include_role': {'name': 'winimage.provisioning.provisioner'},
         'vars': {'odj_domain': samba_dc.dns_domain, 'odj_domain_controller': samba_dc.ip,
                  'odj_cert_validation': 'ignore',
                  'odj_domain_username': '%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                  'odj_domain_password': samba_dc.admin_password, 'odj_vault_password': 'vault-rolechk',
                  'odj_store_dir': str(store), 'odj_netsetup_log': str(tmp_path / 'logs' / 'netsetup.log'),
                  'provisioner_machines': names}},
        {'name': 'show the results', 'ansible.builtin.debug': {'var': 'provisioner_results'}},
    ]

    def play(check):
        rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=0, check=check)
        assert rc == 0, out[-3000:]
        stats = json.loads(out[out.index('{'):])['stats']['localhost']
        return stats, task_results(out)

    stats, results = play(check=True)
    assert stats['failures'] == 0 and stats['changed'] > 0, stats
    role = 'winimage.provisioning.provisioner : '
    assert results[role + 'Create the package store (0700)']['changed'] is True
    provisioned = results[role + 'Provision the machine accounts and write the vault-encrypted packages']
    assert provisioned['changed'] is True and not provisioned.get('failed'), provisioned
    rows = {r['name']: r for r in results['show the results']['provisioner_results']}
    assert {n: rows[n]['status'] for n in names} == {n: 'would create' for n in names}, rows
    assert not (tmp_path / 'new').exists()
    assert [ldap_account(samba_dc, n) for n in names] == [None, None]

    # not vacuous: the same play for real makes the store (0700) and the accounts
    stats, results = play(check=False)
    rows = {r['name']: r for r in results['show the results']['provisioner_results']}
    assert {n: rows[n]['status'] for n in names} == {n: 'created' for n in names}, rows
    assert stat.S_IMODE(os.stat(str(store)).st_mode) == 0o700
    assert sorted(n for n in os.listdir(str(store)) if not n.startswith('.')) == ['%s.djoin.vault' % n for n in names]
    assert all(ldap_account(samba_dc, n) is not None for n in names)


def test_a_run_that_cannot_get_the_store_lock_changes_nothing(samba_dc, client, tmp_path):
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import file_lock
    from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import (
        ProvisionError, Provisioner)
    store = _store(tmp_path, 'busy')
    with file_lock(os.path.join(store, '.odj_provision.lock')):  # another run, still working
        started = time.monotonic()
        with pytest.raises(ProvisionError) as info:
            Provisioner(client, samba_dc.dns_domain, dest=store, lock_timeout=1).run(['LOCKED01'])
        waited = time.monotonic() - started
    error = info.value
    assert error.kind == 'locked' and 'lock_timeout=1' in str(error) and 'nothing was changed' in str(error)
    assert waited >= 1
    assert ldap_account(samba_dc, 'LOCKED01') is None
    assert os.listdir(store) == ['.odj_provision.lock']
