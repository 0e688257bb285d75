# -*- coding: utf-8 -*-
"""Domain set-up shared by the GPO / CA and provisioner option tests (done once per DC).

A GPO made with ``samba-tool gpo create`` whose ``Machine/Registry.pol``
(written with our writer, entries of several types) is uploaded to SYSVOL over
SMB with Samba's ``smbclient``; a second GPO without machine settings; two GPOs
sharing one display name; a test-made self-signed CA certificate published as
``cACertificate`` of an object under ``CN=Certification Authorities,CN=Public
Key Services,CN=Services`` of the configuration partition; a non-admin user
with the default ms-DS-MachineAccountQuota (10).
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time

import ldap3

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import policy as D
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import quota as Q
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import regpol as R
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import flags as F

import samba_dc as dcmod
from test_certs_support import make_ca

GPO_NAME = 'Winimage Workstation Baseline'
EMPTY_GPO_NAME = 'Winimage Empty Policy'
DUP_GPO_NAME = 'Winimage Duplicate Name'
CA_CN = 'Winimage Test Root CA'
PASSWORD = 'integration-test-machine-password-' + 'z' * 20


def policy_entries():
    key = 'Software\\Policies\\Winimage\\Baseline'
    return [
        R.RegPolEntry(key, 'Level', F.REG_DWORD, R.encode_value(F.REG_DWORD, 7)),
        R.RegPolEntry(key, 'Banner', F.REG_SZ, R.encode_value(F.REG_SZ, 'Authorised use only – Grüße')),
        R.RegPolEntry(key, 'LogDir', F.REG_EXPAND_SZ, R.encode_value(F.REG_EXPAND_SZ, '%SystemRoot%\\Logs')),
        R.RegPolEntry(key, 'Servers', F.REG_MULTI_SZ, R.encode_value(F.REG_MULTI_SZ, ['ntp1.corp', 'ntp2.corp'])),
        R.RegPolEntry(key, 'Quota', F.REG_QWORD, R.encode_value(F.REG_QWORD, 5 * 2 ** 33)),
        R.RegPolEntry(key, 'Thumb', F.REG_BINARY, bytes(range(20))),
        R.RegPolEntry(key + '\\Sub', '', F.REG_SZ, R.encode_value(F.REG_SZ, 'default')),
        R.RegPolEntry('Software\\Policies\\Winimage\\Old', '**delvals.', F.REG_SZ, R.encode_value(F.REG_SZ, ' ')),
    ]


def run_command(argv, data, environ_update):
    """The runner _domain_policy wants (what module.run_command is in a module)."""
    env = dict(os.environ)
    env.update(environ_update or {})
    proc = subprocess.run(argv, input=data or b'', stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=180, check=False)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace')


def admin_ldap(dc):
    server = ldap3.Server(dc.ip, port=636, use_ssl=True, get_info=ldap3.NONE)
    return ldap3.Connection(server, user=dc.admin_dn, password=dc.admin_password, auto_bind=True, check_names=False)


def samba_tool(dc, *args):
    command = [dcmod._which('samba-tool')] + list(args) + [  # pylint: disable=protected-access
        '-H', 'ldap://%s' % dc.dc_hostname, '--configfile=%s' % dc.client_conf, '-U', dc.admin_user]
    result = dc.run_client(command, extra_env={'PASSWD': dc.admin_password})
    output = (result.stdout + result.stderr).decode('utf-8', 'replace')
    assert result.returncode == 0, output.replace(dc.admin_password, '***')
    return output


def smb_put(dc, tmp_path, local, share, remote):
    auth = tmp_path / 'smb-auth'
    fd = os.open(str(auth), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write('username = %s\npassword = %s\ndomain = %s\n' % (dc.admin_user, dc.admin_password, dc.netbios))
    result = dc.run_client(['smbclient', '//%s/%s' % (dc.dc_hostname, share), '--configfile=%s' % dc.client_conf,
                            '-A', str(auth), '-c', 'put "%s" "%s"' % (local, remote)])
    os.unlink(str(auth))
    assert result.returncode == 0, (result.stdout + result.stderr).decode('utf-8', 'replace')


def create_gpo(dc, name):
    output = samba_tool(dc, 'gpo', 'create', name)
    match = re.search(r'created as (\{[0-9A-Fa-f-]{36}\})', output)
    assert match, output
    return match.group(1)


class Extras(object):
    pass


_DONE = {}


def domain_extras_for(dc, tmp_path_factory):
    """Set the domain up once per DC (per pytest session); returns the Extras."""
    if dc.directory in _DONE:
        return _DONE[dc.directory]
    tmp = tmp_path_factory.mktemp('gpo')
    extras = Extras()
    # 1. a GPO whose machine part has a Registry.pol written by our writer, uploaded over SMB
    extras.gpo_guid = create_gpo(dc, GPO_NAME)
    extras.pol = R.write(policy_entries())
    local = tmp / 'Registry.pol'
    local.write_bytes(extras.pol)
    extras.pol_remote = '%s\\Policies\\%s\\Machine\\Registry.pol' % (dc.dns_domain, extras.gpo_guid)
    smb_put(dc, tmp, str(local), 'sysvol', extras.pol_remote)
    # 2. a GPO without machine registry settings; 3. two GPOs with one display name
    extras.empty_guid = create_gpo(dc, EMPTY_GPO_NAME)
    extras.dup_guids = [create_gpo(dc, DUP_GPO_NAME + ' A'), create_gpo(dc, DUP_GPO_NAME + ' B')]
    conn = admin_ldap(dc)
    for guid in extras.dup_guids:
        dn = 'CN=%s,CN=Policies,CN=System,%s' % (guid, dc.base_dn)
        assert conn.modify(dn, {'displayName': [(ldap3.MODIFY_REPLACE, [DUP_GPO_NAME])]}), conn.result
    # 4. a CA certificate in the configuration partition's Certification Authorities container
    extras.ca_der = make_ca(CA_CN)
    extras.config_dn = 'CN=Configuration,%s' % dc.base_dn
    extras.ca_dn = 'CN=%s,%s' % (CA_CN, D.CA_CONTAINER % extras.config_dn)
    assert conn.add(extras.ca_dn, ['top', 'certificationAuthority'], {
        'cACertificate': extras.ca_der, 'authorityRevocationList': b'\x00',
        'certificateRevocationList': b'\x00'}), conn.result
    # 5. a non-admin user (default quota 10) for the quota tests
    extras.user = 'odjquota%s' % secrets.token_hex(3)
    extras.user_password = 'Qu0ta-%s!' % secrets.token_urlsafe(12)
    samba_tool(dc, 'user', 'create', extras.user, extras.user_password)
    conn.search(dc.base_dn, '(sAMAccountName=%s)' % extras.user, attributes=['objectSid'])
    entry = [e for e in conn.response if e.get('type') == 'searchResEntry'][0]
    extras.user_dn = entry['dn']
    extras.user_sid = Q.sid_from_bytes(entry['raw_attributes']['objectSid'][0])
    conn.unbind()
    # Windows lets any user create computers through SeMachineAccountPrivilege (within the quota); Samba has no
    # such path, so the user gets "Create Computer objects" on the Computers container, as an admin would delegate
    samba_tool(dc, 'dsacl', 'set', '--objectdn=CN=Computers,%s' % dc.base_dn,
               '--sddl=(OA;CI;CC;bf967a86-0de6-11d0-a285-00aa003049e2;;%s)' % extras.user_sid)
    _DONE[dc.directory] = extras
    return extras


def _other_throwaway_dcs(exclude):
    """'ip (dir)' of the other live throwaway DCs registered on this host."""
    found = []
    registry = dcmod.REGISTRY
    for ip in sorted(os.listdir(registry)) if os.path.isdir(registry) else []:
        if ip.startswith('.') or ip in exclude or not dcmod._reserved(ip):  # pylint: disable=protected-access
            continue
        try:
            with open(os.path.join(registry, ip)) as handle:
                found.append('%s (%s)' % (ip, json.load(handle).get('dir')))
        except (OSError, ValueError):
            found.append(ip)
    return found


class ReadOnlyDC(object):
    """A Samba RODC joined to dc (``samba-tool domain join ... RODC``), on its own 127.0.0.N, in directory.

    Uses samba_dc's address registry so no other throwaway DC takes the address; ``stop`` ends the
    process group this started and releases the address.
    """

    def __init__(self, dc, directory, hostname='rodc1'):
        self.dc = dc
        self.directory = str(directory)
        self.hostname = hostname
        self.dc_hostname = '%s.%s' % (hostname, dc.dns_domain)
        self.ip = None
        self.process = None

    def _choose_ip(self):
        with dcmod._registry_lock():  # pylint: disable=protected-access
            for n in range(250, 20, -1):
                candidate = '127.0.0.%d' % n
                if not dcmod._reserved(candidate) and dcmod.address_free(candidate):  # pylint: disable=protected-access
                    dcmod._reserve(candidate, self.directory, [os.getpid()])  # pylint: disable=protected-access
                    self.ip = candidate
                    return
        raise RuntimeError('no free 127.0.0.N address for the RODC')

    def start(self, timeout=120):
        self._choose_ip()
        d = self.directory
        names = ('run', 'lock', 'state', 'cache', 'private', 'log', 'ncalrpc', 'bind-dns', 'winbindd')
        for name in names:
            os.makedirs(os.path.join(d, name), exist_ok=True)
        with open(self.dc.hosts_file, 'a') as handle:
            handle.write('%s %s %s\n' % (self.ip, self.dc_hostname, self.hostname))
        options = {
            'netbios name': self.hostname.upper(), 'interfaces': '%s/8' % self.ip, 'bind interfaces only': 'yes',
            'pid directory': os.path.join(d, 'run'), 'lock directory': os.path.join(d, 'lock'),
            'state directory': os.path.join(d, 'state'), 'cache directory': os.path.join(d, 'cache'),
            'private dir': os.path.join(d, 'private'), 'binddns dir': os.path.join(d, 'bind-dns'),
            'ncalrpc dir': os.path.join(d, 'ncalrpc'), 'winbindd socket directory': os.path.join(d, 'winbindd'),
            'log file': os.path.join(d, 'log', 'log.%m'), 'ldb:nosync': 'true', 'dns forwarder': '127.0.0.1',
            'ldap server require strong auth': 'allow_sasl_over_tls',
        }
        command = [dcmod._which('samba-tool'), 'domain', 'join', self.dc.dns_domain, 'RODC',  # pylint: disable=protected-access
                   '-U', self.dc.admin_user, '--server=%s' % self.dc.dc_hostname, '--targetdir=%s' % d,
                   '--dns-backend=SAMBA_INTERNAL'] + ['--option=%s=%s' % item for item in options.items()]
        result = self.dc.run_client(command, extra_env={'PASSWD': self.dc.admin_password}, timeout=300)
        output = (result.stdout + result.stderr).decode('utf-8', 'replace').replace(self.dc.admin_password, '***')
        if result.returncode != 0:
            raise RuntimeError('RODC join failed: %s' % output[-2000:])
        env = dict((k, v) for k, v in os.environ.items() if k not in ('LD_PRELOAD', 'NSS_WRAPPER_HOSTS', 'KRB5_CONFIG'))
        samba = [dcmod._which('samba'), '--foreground', '--no-process-group',  # pylint: disable=protected-access
                 '--configfile=%s' % os.path.join(d, 'etc', 'smb.conf')]
        with open(os.path.join(d, 'log', 'samba.out'), 'ab') as out:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                dcmod._private_winbindd_pipe(samba, os.path.join(d, 'winbindd')),  # pylint: disable=protected-access
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        with dcmod._registry_lock():  # pylint: disable=protected-access
            dcmod._reserve(self.ip, self.directory, [self.process.pid])  # pylint: disable=protected-access
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('the RODC samba exited (%s)' % self.process.returncode)
            if self._bind_works():
                return self
            time.sleep(2)
        others = _other_throwaway_dcs((self.ip, self.dc.ip))
        raise RuntimeError('the RODC did not accept an LDAPS bind within %ds%s' % (timeout, (
            '; other throwaway DCs run on this host (%s): an RODC may look for its writable DC among them (same '
            'realm and names) - stop them (samba_dc.py stop --dir DIR) and run again' % ', '.join(others))
            if others else ''))

    def _bind_works(self):
        """An RODC forwards the admin's simple bind to the writable DC; it takes a while after start."""
        try:
            with socket.create_connection((self.ip, 636), timeout=2):
                pass
        except OSError:
            return False
        server = ldap3.Server(self.ip, port=636, use_ssl=True, get_info=ldap3.NONE, connect_timeout=5)
        conn = ldap3.Connection(server, user=self.dc.admin_dn, password=self.dc.admin_password, check_names=False,
                                receive_timeout=10)
        try:
            return bool(conn.bind())
        except ldap3.core.exceptions.LDAPException:
            return False
        finally:
            conn.unbind()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        self.process = None
        # smbd and winbindd run in their own sessions: end those of this RODC's configuration too
        config = os.path.join(self.directory, 'etc', 'smb.conf')
        for pid in dcmod._processes_using(config):  # pylint: disable=protected-access
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + 20
        while dcmod._processes_using(config) and time.monotonic() < deadline:  # pylint: disable=protected-access
            time.sleep(0.5)
        for pid in dcmod._processes_using(config):  # pylint: disable=protected-access
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.ip:
            dcmod._release(self.ip, self.directory)  # pylint: disable=protected-access
