# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioner's orchestration: computer accounts + offline-join packages, one machine or a batch.

What ``djoin /provision`` (``NetCreateProvisioningPackage``) does, from Linux,
over one ADClient connection. Provisioner.run() gathers the facts, asks the rules and
carries them out; the rules themselves are pure functions in provision/decide.py, the
package files, lock and pending marker are provision/store.py:

1. validate every name (NetBIOS: at most 15 characters; DNS: letters, digits,
   hyphens, not only digits, no leading/trailing hyphen);
2. take the store lock (``<dest>/.odj_provision.lock``), then one LDAP search finds
   the accounts that exist already: a run that waited for another sees what it made;
3. per machine, ``decide.decide()`` (a pure function of the account, what the store holds and
   the options): ``unchanged`` (its package file exists and the password in it still
   authenticates as the account), ``created`` (no account), ``reused`` (new password:
   the account is one this collection made - its ``description`` says so - that no
   machine has used yet, or the store's stale package or pending marker names it, or
   O(reuse_account)), ``conflict`` (a machine uses the account - ``operatingSystem``,
   a later logon - and no O(reset_accounts_in_use); or not ours and no
   O(reuse_account)), ``invalid``; in check mode the same as ``would_create`` /
   ``would_reuse`` / ``conflict`` / ``unchanged`` without any write (and without
   trying passwords: a bind is a logon the DC records);
4. build the package with the codec from what the DC itself says (LDAP ping:
   DC flags, forest, DC name, sites; domain SID and GUID; the account's RID/SID);
5. write it 0600 atomically (djoin file, raw or base64 form, optionally Ansible
   Vault encrypted) and/or return it;
6. try each new password once more (Kerberos, while the other writes go on): a
   machine whose password someone else changed meanwhile fails, its package removed.

Each machine is reported to ``on_done`` as its outcome is final (the task writes its
NetSetup log line and counts progress there).

A batch never stops at one bad machine; connection-level failures stop the
rest (they would fail the same way). Accounts about to be created (or reset) are
listed in ``<dest>/.odj_provision.pending`` (names and DNs, no secret) until
their package is on disk and synced, so that the next run recognises an account
whose file could not be written as its own and finishes it.

Extension point (policies, root CA certificates): ``part_builders`` -
callables ``(machine_context) -> [PackagePart, ...]`` appended to every package.
"""

from __future__ import annotations

import os
import re
import secrets
import string
import time

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import LockTimeout
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import provision_flags
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import build_package, encode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import (
    ACCOUNT_MARKER, STATUS_FAILED, StoreEntry, check_machine_name, decide, default_password, is_workstation,
    package_mismatch)
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.parts import writable_dc_problem
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.store import (
    FORMS, PackageStore, StoreError)


# 64 random characters (~410 bits). At most 64 bytes so that the DC's PBKDF2
# (Kerberos AES keys) uses it as the HMAC key directly: a longer one costs the DC
# a hash per iteration with no gain in strength.
PASSWORD_LENGTH = 64
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + '!#$*+,-./:;=?@[]^_{|}~'

# LDAP requests outstanding at once on the connection, and new accounts read back per search
PIPELINE_WINDOW = 16
READ_BACK_CHUNK = 10
# written accounts whose password version is read back per search after their packages are written
CHECK_CHUNK = 10
# passwords tried at once with Kerberos when a version says another write happened (a kinit process each)
VERIFY_WORKERS = 2
# seconds a run waits for another run that holds the store lock (option lock_timeout)
LOCK_TIMEOUT = 600


def _default_error_namer():
    """_provision_parts.error_for when that module is present (Windows error names), else None."""
    try:
        from ansible_collections.winimage.provisioning.plugins.module_utils.provision.parts import (  # pylint: disable=import-outside-toplevel
            error_for)
    except ImportError:
        return None
    return error_for


def _default_quota(client, domain_info):
    """_machine_quota.MachineQuota (ms-DS-MachineAccountQuota for non-admins) when present, else None."""
    try:
        from ansible_collections.winimage.provisioning.plugins.module_utils.ad.quota import (  # pylint: disable=import-outside-toplevel
            MachineQuota)
    except ImportError:
        return None
    quota = MachineQuota(client, domain_info.base_dn, domain_info.sid)
    Provisioner._hook(quota.prepare)
    return quota


class ProvisionError(Exception):
    """The whole run cannot go on (bad options, DC unreachable, OU missing...)."""

    def __init__(self, message, kind='error'):
        super(ProvisionError, self).__init__(message)
        self.kind = kind


def generate_password(length=PASSWORD_LENGTH):
    while True:
        password = ''.join(secrets.choice(_PASSWORD_ALPHABET) for _index in range(length))
        # AD complexity: three of four classes (always met in practice; checked anyway)
        classes = sum(bool(re.search(p, password)) for p in ('[a-z]', '[A-Z]', '[0-9]', '[^A-Za-z0-9]'))
        if classes >= 3:
            return password


class Progress(object):
    """``n/N done, F failed`` lines while a batch runs: every ``interval`` seconds or tenth of the batch, and at the end.

    emit(text) gets each line; batches smaller than ``minimum`` are not reported.
    """

    def __init__(self, total, emit, interval=5.0, minimum=10, clock=time.monotonic):
        self.total = total
        self.emit = emit if total >= minimum else None
        self.interval = interval
        self.step = max(1, total // 10)
        self.clock = clock
        self.done = 0
        self.failed = 0
        self._last_count = 0
        self._last_time = clock()

    def finished(self, failed=False):
        self.done += 1
        self.failed += bool(failed)
        if self.emit is None:
            return
        now = self.clock()
        if self.done == self.total or self.done - self._last_count >= self.step \
                or now - self._last_time >= self.interval:
            self._last_count = self.done
            self._last_time = now
            self.emit('%d/%d done, %d failed' % (self.done, self.total, self.failed))


class Machine(object):
    """Per-machine state and outcome (``result()`` never holds a secret unless return_package)."""

    def __init__(self, requested):
        self.requested = requested
        self.name = None
        self.status = None
        self.changed = False
        self.msg = None
        self.account = None
        self.path = None
        self.package_b64 = None
        self.verified = None
        self.file_action = None
        self.account_action = None
        self.password = None
        self.error_kind = None
        self.error = None
        self.write = None
        self.was_pending = True

    def fail(self, status, msg, kind=None):
        self.status = status
        self.msg = msg
        self.error_kind = kind or status

    def result(self, with_package=False):
        out = {'name': self.name or self.requested, 'status': self.status, 'changed': self.changed,
               'msg': self.msg, 'dn': None, 'sid': None, 'rid': None, 'object_guid': None, 'path': self.path,
               'password_verified': self.verified}
        if self.account is not None:
            out.update(dn=self.account.dn, sid=self.account.sid, rid=self.account.rid,
                       object_guid=str(self.account.guid) if self.account.guid else None)
        if self.error is not None:
            out['error'] = dict(self.error)
        if with_package:
            out['package'] = self.package_b64
        return out


class Provisioner(object):
    """Runs one batch over one connected ADClient."""

    def __init__(self, client, domain, machine_account_ou=None, reuse_account=False, use_default_password=False,
                 dest=None, package_format='djoin_file', return_package=False, vault_password=None, vault_id=None,
                 check_mode=False, part_builders=(), enctypes=None, part_sources=None, skip_account_search=False,
                 provision_root_ca_certs=False, persistent_site=False, quota='auto', error_namer='auto',
                 reset_accounts_in_use=False, lock_timeout=LOCK_TIMEOUT, on_done=None):
        if package_format not in FORMS:
            raise ProvisionError('package_format must be one of %s' % ', '.join(sorted(FORMS)), 'options')
        if not dest and not return_package:
            raise ProvisionError('nowhere to put the packages: give dest (a folder) and/or return_package=true',
                                 'options')
        if vault_password is not None and not dest:
            raise ProvisionError('vault encryption is for package files: give dest', 'options')
        self.client = client
        self.domain = domain.strip().rstrip('.').lower()
        self.ou = machine_account_ou
        self.reuse_account = reuse_account
        self.reset_accounts_in_use = reset_accounts_in_use
        self.lock_timeout = lock_timeout
        # on_done(machine, count): called (in this thread) as each machine's outcome is final, in the order they
        # finish; count is the number of machines in the batch (the names given, duplicates once)
        self.on_done = on_done
        self.dest_created = False
        self.use_default_password = use_default_password
        self.dest = dest
        # the package store (provision/store.py): files, lock, pending marker
        self.store = PackageStore(dest, package_format, vault_password, vault_id) if dest else None
        self.return_package = return_package
        self.check_mode = check_mode
        self.part_builders = list(part_builders)
        self.enctypes = enctypes
        # extension points (policies, CA certificates, quotas, Windows error names):
        # part_sources: object with check_local(), gather(client, domain_info), builder(context) -> [PackagePart]
        # quota: None, 'auto' (_machine_quota.MachineQuota when present) or an object with prepare(), check(name),
        #        record() (an add about to be sent) and release() (that add was refused);
        # error_namer: None, 'auto' (_provision_parts.error_for) or callable(kind, msg) -> (name, code)
        self.part_sources = part_sources
        self.skip_account_search = skip_account_search
        self.provision_root_ca_certs = provision_root_ca_certs
        self.persistent_site = persistent_site
        self.quota = quota
        self.error_namer = _default_error_namer() if error_namer == 'auto' else error_namer
        self.domain_info = None
        self.ou_dn = None
        self._pending = {}
        self._found = {}
        self._checked = {}
        self._reported = set()
        self._batch_size = 0
        self._pipe = None
        self._to_check = []
        self._to_try = []

    # -- the run -------------------------------------------------------
    def prepare(self):
        """Domain facts, the target OU, the extra part sources and the quota; fails the run before any change."""
        if self.part_sources is not None:
            self._hook(self.part_sources.check_local)
        try:
            self.domain_info = self.client.domain_info(self.domain)
        except ADError as exc:
            raise ProvisionError(str(exc), exc.kind)
        problem = writable_dc_problem(self.domain_info, self.domain)
        if problem:
            raise ProvisionError(problem, 'dc_role')
        self.ou_dn = self.ou or self.domain_info.computers_dn
        try:
            present = self.client.exists(self.ou_dn)
        except ADError as exc:
            raise ProvisionError(str(exc), exc.kind)
        if not present:
            raise ProvisionError('the OU %s does not exist in %s' % (self.ou_dn, self.domain), 'ou_missing')
        if self.dest:
            try:
                self.dest_created = self.store.prepare(self.check_mode)
            except StoreError as exc:
                raise ProvisionError(str(exc), 'options')
        if self.part_sources is not None:
            self._hook(self.part_sources.gather, self.client, self.domain_info)
            self.part_builders.append(self.part_sources.builder)
        if self.quota == 'auto':
            self.quota = _default_quota(self.client, self.domain_info)
        elif self.quota is not None:
            self._hook(self.quota.prepare)

    @staticmethod
    def _hook(func, *args):
        """Run an extension hook; its failure stops the run before any change, as a ProvisionError."""
        try:
            return func(*args)
        except (ProvisionError, ADError):
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise ProvisionError(str(exc), getattr(exc, 'kind', None) or 'options')

    def run(self, names):
        """Provision names (strings); return the Machine list in the order given (duplicates once)."""
        machines = []
        seen = set()
        for requested in names:
            machine = Machine(requested)
            try:
                machine.name = check_machine_name(requested)
            except ValueError as exc:
                machine.fail('invalid', 'invalid machine name %r: %s' % (requested, exc))
                machines.append(machine)
                continue
            if machine.name in seen:
                continue
            seen.add(machine.name)
            machines.append(machine)
        self._batch_size = len(machines)
        self.prepare()
        valid = [m for m in machines if m.status is None]
        for machine in machines:
            if machine.status is not None:
                self._done(machine)
        if self.dest and not self.check_mode:
            # the lock before the accounts are looked up: a run that waited sees what the other one made
            try:
                with self.store.lock(self.lock_timeout):
                    self._pending = self.store.load_pending()
                    try:
                        self._run_all(valid, self._find_accounts(valid))
                    finally:
                        self.store.save_pending(self._pending)
            except LockTimeout:
                raise ProvisionError('another run has held the store lock %s for more than lock_timeout=%s s; '
                                     'nothing was changed' % (self.store.lock_path, self.lock_timeout), 'locked')
        else:
            if self.dest:
                self._pending = self.store.load_pending()
            self._run_all(valid, self._find_accounts(valid))
        for machine in machines:
            self._done(machine)
        return machines

    def _find_accounts(self, machines):
        try:
            return self.client.find_accounts(self.domain_info.base_dn, [m.name for m in machines])
        except ADError as exc:
            raise ProvisionError(str(exc), exc.kind)

    def _done(self, machine):
        """machine's outcome is final: name its error, tell on_done (once per machine)."""
        if id(machine) in self._reported:
            return
        self._reported.add(id(machine))
        self._name_error(machine)
        if self.on_done is not None:
            self.on_done(machine, self._batch_size)

    def _name_error(self, machine):
        """Windows error name and number of a failure (error_namer), prefixed to its message."""
        if self.error_namer is None or machine.status not in STATUS_FAILED:
            return
        name, code = self.error_namer(machine.error_kind, machine.msg)
        if not name:
            return
        machine.error = {'name': name, 'code': code}
        if not (machine.msg or '').startswith(name):
            machine.msg = '%s (%s): %s' % (name, code, machine.msg) if code is not None else '%s: %s' % (
                name, machine.msg)

    def _run_all(self, machines, existing):
        # accounts about to be created go into the pending marker first (one durable write)
        if self.dest and not self.check_mode:
            for machine in machines:
                if machine.name not in existing:
                    self._pending[machine.name] = {'dn': self.client.computer_dn(machine.name, self.ou_dn)}
            self.store.save_pending(self._pending)
        self._verify_all(machines, existing)
        fatal = None
        writes = []
        for machine in machines:
            if fatal is not None:
                machine.fail('failed', 'not attempted: %s' % fatal)
                continue
            try:
                if self._decide(machine, existing.get(machine.name)):
                    writes.append(machine)
                else:
                    self._done(machine)
            except ADError as exc:
                machine.fail('failed', str(exc), exc.kind)
                if exc.kind in ('unreachable', 'bad_credentials', 'tls', 'tls_required'):
                    fatal = str(exc)
            except (OSError, ValueError) as exc:
                machine.fail('failed', '%s: %s' % (machine.name, exc), getattr(exc, 'kind', None) or 'error')
        if fatal is not None:
            for machine in writes:
                self._write_failed(machine, 'not attempted: %s' % fatal, 'failed')
            writes = []
        if writes:
            if self.dest and any(m.write == 'reset' for m in writes):
                self.store.save_pending(self._pending)  # the accounts about to get a new password, before their reset
            self._write_all(writes)
        if self.dest and not self.check_mode:
            for machine in machines:
                if machine.name in self._pending and machine.account_action is None \
                        and machine.name not in existing and machine.error_kind != 'unreachable':
                    # never created (refused, or not attempted); a connection lost during the add may
                    # have left the account behind, so that entry stays for the next run to recognise it
                    del self._pending[machine.name]
            self.store.sync()
            for machine in writes:
                if machine.file_action == 'written':
                    self._pending.pop(machine.name, None)
        for machine in writes:
            self._done(machine)

    def _write_all(self, writes):
        """The LDAP writes of the batch, pipelined on the one connection; each package is made as its reply comes.

        The DC works through the adds and resets back to back (up to ``PIPELINE_WINDOW``
        requests outstanding) while this side reads new accounts back (one search per
        ``READ_BACK_CHUNK`` accounts, sent after their adds were answered) and builds
        and writes their packages.
        """
        pipe = self.client.pipeline(PIPELINE_WINDOW)
        creates = [m for m in writes if m.write == 'create']
        state = {'left': len(creates), 'waiting': []}
        kwargs = {} if self.enctypes is None else {'enctypes': self.enctypes}

        def read_back(chunk):
            def done(found, error):
                for machine in chunk:
                    machine.account = found.get(machine.name)
                    self._finish(machine, error)
            self.client.queue_find_accounts(pipe, self.domain_info.base_dn, [m.name for m in chunk], done, first=True)

        def created(machine):
            def done(error):
                state['left'] -= 1
                if error is not None:
                    self._write_failed(machine, str(error), error.kind)
                else:
                    machine.account_action = 'created'
                    machine.status = 'created'
                    machine.changed = True
                    machine.msg = 'account created'
                    state['waiting'].append(machine)
                if state['waiting'] and (len(state['waiting']) >= READ_BACK_CHUNK or not state['left']):
                    read_back(state['waiting'])
                    state['waiting'] = []
            return done

        def reset(machine):
            def done(error):
                if error is not None:
                    self._write_failed(machine, str(error), error.kind)
                    return
                machine.account_action = 'password_reset'
                machine.status = 'reused'
                machine.changed = True
                self._finish(machine, None)
            return done

        for machine in writes:
            if machine.write == 'create':
                self.client.queue_create_computer(pipe, machine.name, self.ou_dn, self.domain_info.dns_domain,
                                                  machine.password, created(machine), description=ACCOUNT_MARKER,
                                                  **kwargs)
            else:
                self.client.queue_set_password(pipe, machine.account.dn, machine.password, reset(machine))
        self._pipe = pipe
        try:
            pipe.run()
        finally:
            self._pipe = None
        self._send_checks()
        self._try_passwords()

    # -- the check after the writes: does each new password still authenticate? --
    # Every write of unicodePwd increments the account's key version (msDS-KeyVersionNumber, the version
    # of unicodePwd in its replication metadata): 1 after an add that set the password, the version read
    # before a reset plus one after it. Once a package is written its account's version is read back
    # (one search per CHECK_CHUNK accounts, on the pipeline while the writes go on): the expected version
    # proves that no other write of the password came after this run's, at no cost to the DC's KDC. Any
    # other version (or none: a DC that does not return it) means another write happened, before or
    # after this run's: that password is then tried with Kerberos, which says for sure.
    def _queue_check(self, machine, password):
        if machine.account_action == 'created':
            expected = 1
        else:
            before = machine.account.key_version if machine.account is not None else None
            expected = before + 1 if before is not None else None
        self._to_check.append((machine, password, expected))
        if len(self._to_check) >= CHECK_CHUNK:
            self._send_checks()

    def _send_checks(self):
        chunk, self._to_check = self._to_check, []
        if not chunk:
            return

        def done(found, error):
            for machine, password, expected in chunk:
                account = found.get(machine.name)
                if error is None and expected is not None and account is not None \
                        and account.key_version == expected:
                    self._checked_after_write(machine, True)
                else:
                    self._to_try.append((machine, password))
        names = [machine.name for machine, _password, _expected in chunk]
        if self._pipe is not None:
            self.client.queue_find_accounts(self._pipe, self.domain_info.base_dn, names, done, first=True)
        else:
            try:
                found, error = self.client.find_accounts(self.domain_info.base_dn, names), None
            except ADError as exc:
                found, error = {}, exc
            done(found, error)

    def _try_passwords(self):
        """Kerberos for the new passwords whose version says another write happened."""
        todo, self._to_try = self._to_try, []
        if not todo:
            return
        realm = self.domain_info.dns_domain.upper()
        checks = [(machine.account.dn, password,
                   machine.account.sam_account_name or '%s$' % machine.name, realm) for machine, password in todo]
        try:
            outcomes = self.client.verify_passwords(checks, VERIFY_WORKERS)
        except ADError as exc:
            outcomes = [exc] * len(todo)
        for (machine, _password), outcome in zip(todo, outcomes):
            self._checked_after_write(machine, outcome)

    def _checked_after_write(self, machine, outcome):
        """A machine whose new password no longer authenticates failed: someone reset it after this run did."""
        if outcome is True:
            machine.verified = True
        elif outcome is False:
            machine.verified = False
            removed = ''
            if machine.path:
                try:
                    os.unlink(machine.path)
                    removed = '; its package %s was removed' % machine.path
                    machine.path = None
                    machine.file_action = 'removed'
                except OSError:
                    removed = '; its package %s does not work' % machine.path
            machine.package_b64 = None
            machine.fail('failed', 'the password of %s$ was changed by someone else while this run worked: the new '
                                   'package does not authenticate (another run, or an administrator, reset the '
                                   'account meanwhile)%s' % (machine.name, removed), 'changed_meanwhile')
        else:
            machine.fail('failed', 'the new password of %s$ could not be checked (%s); the package is kept and the '
                                   'next run checks it' % (machine.name, outcome),
                         getattr(outcome, 'kind', None) or 'error')
        self._done(machine)

    def _write_failed(self, machine, message, kind):
        """The write of machine was refused, or not made; only a lost connection leaves it in doubt."""
        machine.password = None
        if machine.write == 'create' and kind != 'unreachable' and self.quota is not None:
            self.quota.release()
        if machine.write == 'reset' and kind != 'unreachable' and not machine.was_pending:
            self._pending.pop(machine.name, None)  # the password is unchanged: the account is not ours
        if kind == 'not_attempted':
            machine.fail('failed', message)
        else:
            machine.fail('failed', message, kind)
        self._done(machine)

    def _finish(self, machine, problem):
        """Build and write the package of an account just created or reset (its password is then forgotten)."""
        password = machine.password
        machine.password = None
        try:
            if problem is not None or machine.account is None or machine.account.rid is None:
                raise ValueError('the new account cannot be read back%s' % (' (%s)' % problem if problem else ''))
            raw = encode(self._build(machine, password))
            if self.dest:
                machine.path = self.store.write(machine.name, raw)
                machine.file_action = 'written'
            if self.return_package:
                machine.package_b64 = to_base64(raw)
        except (OSError, ValueError) as exc:
            machine.fail('failed', 'the account %s is %s but its package could not be made or written (%s); '
                                   'the next run finishes it' % (machine.name, machine.account_action, exc))
            self._done(machine)
            return
        self._queue_check(machine, password)

    def _existing_package(self, machine, account):
        """(ProvisionData, password, path, note) of the package file of machine, if any."""
        if not self.dest:
            return None, None, None, None
        for path in self.store.existing_paths(machine.name):
            pd, note = self.store.read(path)
            if pd is None:
                return None, None, path, note
            note = package_mismatch(pd, path, machine.name, self.domain_info.dns_domain, account)
            if note is not None:
                return None, None, path, note
            return pd, pd.win7.machine_password, path, None
        return None, None, None, None

    def _verify_all(self, machines, existing):
        """Read the existing packages and try their passwords, all at once (independent Kerberos exchanges).

        _decide then uses the outcomes; check mode tries no password.
        """
        self._found = {}
        self._checked = {}
        if self.check_mode or not self.dest:
            return
        todo = []
        for machine in machines:
            account = existing.get(machine.name)
            if account is None or not is_workstation(account):
                continue
            found = self._existing_package(machine, account)
            self._found[machine.name] = found
            if found[0] is not None:
                todo.append((machine.name, (account.dn, found[1], account.sam_account_name,
                                            self.domain_info.dns_domain.upper())))
        if todo:
            outcomes = self.client.verify_passwords([check for _name, check in todo])
            self._checked = dict((name, outcome) for (name, _check), outcome in zip(todo, outcomes))

    def _ours(self, machine, account):
        """True when the pending marker of an earlier run names this account."""
        entry = self._pending.get(machine.name) if self.dest else None
        return bool(entry) and (entry.get('dn') or '').lower() == account.dn.lower()

    def _decide(self, machine, account):
        """Decide for one machine (decide()); True when it needs an LDAP write (``machine.write``: create or reset)."""
        found = self._found.get(machine.name)
        pd, _password, path, note = found if found is not None else self._existing_package(machine, account)
        verified = None
        if account is not None and pd is not None and not self.check_mode:
            verified = self._checked.pop(machine.name)  # tried by _verify_all
            if isinstance(verified, ADError):
                raise verified
        store = StoreEntry(path=path, usable=account is not None and pd is not None, verified=verified, note=note,
                           pending=account is not None and self._ours(machine, account))
        decision = decide(machine.name, account, store, reuse_account=self.reuse_account,
                          reset_accounts_in_use=self.reset_accounts_in_use)
        machine.account = account
        machine.msg = decision.msg
        if decision.action == 'refuse':
            machine.fail('conflict', decision.msg)
            return False
        if decision.action == 'keep':
            machine.path = path
            machine.status = 'unchanged'
            machine.verified = verified
            raw = encode(pd)
            if verified:
                self._pending.pop(machine.name, None)
                if path != self.store.path(machine.name) or self.store.needs_rewrite(path):
                    machine.path = self.store.write(machine.name, raw)
                    machine.changed = True
                    machine.file_action = 'rewritten'
                    machine.msg = 'password still valid; file rewritten as %s' % machine.path
            if self.return_package:
                machine.package_b64 = to_base64(raw)
            return False
        if decision.action == 'reset':
            machine.verified = False if store.usable else None
            if self.check_mode:
                machine.status = 'would_reuse'
                machine.changed = True
                machine.msg = 'would reset the password of %s and write a new package: %s' % (account.dn, decision.msg)
                return False
            if self.dest:
                machine.was_pending = machine.name in self._pending
                self._pending[machine.name] = {'dn': account.dn}
            machine.password = self._new_password(machine.name)
            machine.write = 'reset'
            return True
        dn = self.client.computer_dn(machine.name, self.ou_dn)
        if self.check_mode:
            machine.status = 'would_create'
            machine.changed = True
            machine.msg = 'would create %s' % dn
            return False
        if self.quota is not None:
            try:
                self.quota.check(machine.name)
            except Exception as exc:  # pylint: disable=broad-except
                machine.fail('failed', str(exc), 'quota')
                return False
            self.quota.record()  # reserved now (the adds are pipelined); released if the add fails
        machine.password = self._new_password(machine.name)
        machine.write = 'create'
        return True

    def _new_password(self, name):
        return default_password(name) if self.use_default_password else generate_password()

    def options_flags(self):
        """The NETSETUP_PROVISION_* flags the package records, from this provisioner's options."""
        return provision_flags(reuse_account=self.reuse_account, use_default_password=self.use_default_password,
                               skip_account_search=self.skip_account_search,
                               provision_root_ca_certs=self.provision_root_ca_certs, persistent_site=self.persistent_site)

    def _build(self, machine, password):
        di = self.domain_info
        context = {'name': machine.name, 'account': machine.account, 'domain': di}
        extra = []
        for builder in self.part_builders:
            extra.extend(builder(context))
        return build_package(
            domain_dns=di.dns_domain, netbios_domain=di.netbios, forest=di.forest, domain_guid=di.guid,
            domain_sid=di.sid, machine_name=machine.name, machine_password=password,
            dc_name='\\\\' + di.dc_dns_name, dc_address='\\\\' + di.dc_address, dc_address_type=1,
            dc_flags=di.dc_flags, dc_site_name=di.dc_site_name, client_site_name=di.client_site_name,
            options=self.options_flags(), rid=machine.account.rid, machine_sid=machine.account.sid,
            extra_parts=extra)

    def domain_facts(self):
        di = self.domain_info
        if di is None:
            return None
        return {'dns_domain': di.dns_domain, 'netbios_name': di.netbios, 'forest': di.forest, 'sid': di.sid,
                'guid': str(di.guid), 'dc_name': di.dc_dns_name, 'dc_address': di.dc_address,
                'dc_flags': di.dc_flags, 'dc_site_name': di.dc_site_name, 'client_site_name': di.client_site_name,
                'machine_account_ou': self.ou_dn}


def summarize(machines, with_package=False):
    """Module result pieces: per-machine list, changed, failed names, counts, diff."""
    results = [m.result(with_package) for m in machines]
    failed = [m for m in machines if m.status in STATUS_FAILED]
    counts = {}
    for m in machines:
        counts[m.status] = counts.get(m.status, 0) + 1
    before = {'accounts': {}, 'files': {}}
    after = {'accounts': {}, 'files': {}}
    for m in machines:
        if not m.changed:
            continue
        if m.status in ('created', 'would_create'):
            before['accounts'][m.name] = 'absent'
            after['accounts'][m.name] = 'created'
        elif m.status in ('reused', 'would_reuse'):
            before['accounts'][m.name] = 'present'
            after['accounts'][m.name] = 'password reset'
        if m.path or m.status in ('would_create', 'would_reuse'):
            label = m.path or m.name
            before['files'][label] = 'present' if m.status in ('reused', 'would_reuse', 'unchanged') else 'absent'
            after['files'][label] = 'new package'
    return {
        'machines': results,
        'changed': any(m.changed for m in machines),
        'failed_machines': [m.name or m.requested for m in failed],
        'counts': counts,
        'diff': {'before': before, 'after': after},
        'failure_messages': ['%s: %s' % (m.name or m.requested, m.msg) for m in failed],
    }
