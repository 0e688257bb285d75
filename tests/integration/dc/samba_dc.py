#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway Samba AD domain controller for tests, the demo and benchmarks.

Everything lives in one folder: ``samba-tool domain provision`` writes the
domain there (``--targetdir``), every samba directory (pid, lock, state, cache,
private, logs) points inside it, and ``samba`` binds one loopback address
(``interfaces = 127.0.0.N/8`` + ``bind interfaces only``). Clients reach the DC
through a generated ``krb5.conf`` and a hosts file served by ``libnss-wrapper``
(``LD_PRELOAD`` + ``NSS_WRAPPER_HOSTS`` in the *child* environment only), so
``/etc/hosts`` is never touched.

Command line::

    python tests/integration/dc/samba_dc.py start --dir DIR [--realm R --domain D --ip 127.0.0.N --admin-password P]
                                                          [--hardened]
    python tests/integration/dc/samba_dc.py env --dir DIR      # JSON: how to reach it
    python tests/integration/dc/samba_dc.py stop --dir DIR

``--hardened`` / ``SambaDC(hardened=True)``: a DC configured like many
production DCs: no certificate (``tls enabled = no``: no LDAPS, no StartTLS) and
``ldap server require strong auth = yes`` (simple binds refused, SASL binds must
sign and seal). Both are written into the generated smb.conf ``[global]``
before samba starts (``samba-tool domain provision`` drops ``tls enabled``
given as ``--option``).

``unique_realm()`` gives a realm/NetBIOS pair no other throwaway DC on the host
uses: a read-only DC looks for a writable DC of its realm and finds another
test's DC when several with the same realm run at once.

Python::

    dc = SambaDC(directory)   # or SambaDC() for a fresh temporary folder
    dc.start()
    raw = net_offlinejoin_provision(dc, 'WS01')
    dc.stop()
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Ports samba binds on its address; all must be free on a candidate address.
SAMBA_TCP_PORTS = (53, 88, 135, 139, 389, 445, 464, 636, 3268, 3269)
SAMBA_UDP_PORTS = (53, 88, 137, 138, 389, 464)
# Ports that must answer before the DC counts as up.
READY_PORTS = (88, 389, 445, 636)
DISTRO_SERVICES = ('samba-ad-dc', 'smbd', 'nmbd', 'winbind')
REGISTRY = os.path.join(tempfile.gettempdir(), 'winimage-samba-dc.d')
STATE_FILE = 'dc.json'


def unique_realm(prefix='T'):
    """(realm, NetBIOS domain) unique on this host for this process and moment: T<pid><n>.EXAMPLE.TEST."""
    unique_realm.count = getattr(unique_realm, 'count', 0) + 1
    label = ('%s%d%s' % (prefix, os.getpid(), secrets.token_hex(2))).upper()[:15]
    return '%s.EXAMPLE.TEST' % label, label


class SambaDCError(RuntimeError):
    """The DC could not be provisioned, started or reached."""


def samba_available():
    """Return None when the samba binaries are present, else a reason string."""
    missing = [tool for tool in ('samba', 'samba-tool', 'net') if shutil.which(tool, path=_sbin_path()) is None]
    if missing:
        return 'samba binaries missing: %s (apt-get install samba samba-ad-dc samba-common-bin)' % ', '.join(missing)
    if nss_wrapper_library() is None:
        return 'libnss_wrapper.so missing (apt-get install libnss-wrapper)'
    return None


def _sbin_path():
    return os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/sbin', '/usr/bin'])


def _which(tool):
    found = shutil.which(tool, path=_sbin_path())
    if not found:
        raise SambaDCError('%s not found; install the samba packages listed in bindep.txt' % tool)
    return found


def nss_wrapper_library():
    """Path of libnss_wrapper.so, or None."""
    for pattern in ('/usr/lib/*/libnss_wrapper.so', '/usr/lib/libnss_wrapper.so', '/usr/lib64/libnss_wrapper.so'):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def random_password():
    """A password that satisfies AD complexity rules and is safe in ``user%password``."""
    return 'Dc1-' + secrets.token_urlsafe(15).replace('%', 'x') + 'aZ9'


def _port_free(ip, port, kind=socket.SOCK_STREAM):
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def address_free(ip):
    """True when no samba port is taken on ip (or on the wildcard address)."""
    return (all(_port_free(ip, p) for p in SAMBA_TCP_PORTS)
            and all(_port_free(ip, p, socket.SOCK_DGRAM) for p in SAMBA_UDP_PORTS))


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    try:
        with open('/proc/%d/stat' % int(pid)) as handle:
            return handle.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return True


@contextlib.contextmanager
def _registry_lock():
    os.makedirs(REGISTRY, exist_ok=True)
    fd = os.open(os.path.join(REGISTRY, '.lock'), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _registry_entry(ip):
    return os.path.join(REGISTRY, ip)


def _reserved(ip):
    """An address is reserved while the process recorded for it lives."""
    try:
        with open(_registry_entry(ip)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return False
    return any(_pid_alive(pid) for pid in record.get('pids', []))


def _reserve(ip, directory, pids):
    with open(_registry_entry(ip), 'w') as handle:
        json.dump({'dir': directory, 'pids': list(pids)}, handle)


def _release(ip, directory):
    path = _registry_entry(ip)
    with _registry_lock():
        try:
            with open(path) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return
        if record.get('dir') == directory:
            with contextlib.suppress(OSError):
                os.unlink(path)


def stop_distro_services():
    """Stop the distribution's samba services if they run (they hold the ports)."""
    for name, pidfile in (('samba-ad-dc', '/run/samba/samba.pid'), ('smbd', '/run/samba/smbd.pid'),
                          ('nmbd', '/run/samba/nmbd.pid'), ('winbind', '/run/samba/winbindd.pid')):
        try:
            with open(pidfile) as handle:
                pid = int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _pid_alive(pid):
            continue
        for command in (['systemctl', 'stop', name], ['service', name, 'stop']):
            if shutil.which(command[0], path=_sbin_path()):
                subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                if not _pid_alive(pid):
                    break


def _children_map():
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid):
    """pid and all of its descendants (a snapshot)."""
    children = _children_map()
    result, todo = [], [int(pid)]
    while todo:
        current = todo.pop()
        result.append(current)
        todo.extend(children.get(current, []))
    return result


def _processes_using(config_path):
    """Processes whose command line names config_path (smbd/winbindd fork their own sessions)."""
    found = []
    needle = b'--configfile=' + config_path.encode() + b'\0'
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                if needle in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


class SambaDC:
    """One throwaway AD DC in one folder.

    Attributes: realm, netbios, dns_domain, ip, hostname, dc_hostname (FQDN),
    admin_user, admin_password, base_dn, krb5_conf, smb_conf, client_conf,
    hosts_file, env (variables a client process needs).
    """

    def __init__(self, directory=None, realm='CORP.EXAMPLE.TEST', domain='CORP', ip=None,
                 admin_password=None, hostname='dc1', hardened=False):
        self._own_dir = directory is None
        self.hardened = hardened
        self.directory = os.path.abspath(directory or tempfile.mkdtemp(prefix='winimage-dc-'))
        self.realm = realm.upper()
        self.netbios = domain.upper()
        self.dns_domain = realm.lower()
        self.ip = ip
        self.hostname = hostname.lower()
        self.admin_user = 'Administrator'
        self.admin_password = admin_password or random_password()
        self.pid = None
        self.domain_sid = None
        self._process = None
        self._load_state()

    # -- derived names -------------------------------------------------
    @property
    def dc_hostname(self):
        return '%s.%s' % (self.hostname, self.dns_domain)

    @property
    def base_dn(self):
        return ','.join('DC=%s' % part for part in self.dns_domain.split('.'))

    @property
    def smb_conf(self):
        return os.path.join(self.directory, 'etc', 'smb.conf')

    @property
    def client_conf(self):
        return os.path.join(self.directory, 'client', 'smb.conf')

    @property
    def krb5_conf(self):
        return os.path.join(self.directory, 'krb5.conf')

    @property
    def hosts_file(self):
        return os.path.join(self.directory, 'hosts')

    @property
    def ca_file(self):
        """PEM of the CA that signs the DC's LDAPS certificate (None on a hardened DC: it has no certificate)."""
        return None if self.hardened else os.path.join(self.directory, 'private', 'tls', 'ca.pem')

    @property
    def state_file(self):
        return os.path.join(self.directory, STATE_FILE)

    @property
    def log_dir(self):
        return os.path.join(self.directory, 'log')

    @property
    def admin_principal(self):
        return '%s@%s' % (self.admin_user, self.realm)

    @property
    def admin_dn(self):
        return 'CN=%s,CN=Users,%s' % (self.admin_user, self.base_dn)

    @property
    def env(self):
        """Environment variables for a client child process (never set them in the caller)."""
        values = {'KRB5_CONFIG': self.krb5_conf, 'NSS_WRAPPER_HOSTS': self.hosts_file}
        lib = nss_wrapper_library()
        if lib:
            values['LD_PRELOAD'] = lib
        return values

    def child_env(self, extra=None):
        """os.environ plus env (plus extra) for subprocess calls."""
        merged = dict(os.environ)
        merged.update(self.env)
        if extra:
            merged.update(extra)
        return merged

    def info(self):
        """Everything a client needs to reach the DC (JSON-serialisable)."""
        return {
            'dir': self.directory, 'realm': self.realm, 'netbios': self.netbios, 'dns_domain': self.dns_domain,
            'ip': self.ip, 'hostname': self.hostname, 'dc_hostname': self.dc_hostname,
            'admin_user': self.admin_user, 'admin_password': self.admin_password,
            'admin_principal': self.admin_principal, 'admin_dn': self.admin_dn,
            'base_dn': self.base_dn, 'domain_sid': self.domain_sid,
            'ldap_uri': 'ldap://%s' % self.ip, 'ldaps_uri': 'ldaps://%s' % self.ip,
            'krb5_conf': self.krb5_conf, 'smb_conf': self.smb_conf, 'client_conf': self.client_conf,
            'hosts_file': self.hosts_file, 'env': self.env, 'pid': self.pid, 'running': self.running,
            'hardened': self.hardened, 'ca_file': self.ca_file,
        }

    # -- state ---------------------------------------------------------
    def _load_state(self):
        try:
            with open(self.state_file) as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            return
        self.realm = state['realm']
        self.netbios = state['netbios']
        self.dns_domain = state['dns_domain']
        self.ip = state['ip']
        self.hostname = state['hostname']
        self.admin_password = state['admin_password']
        self.pid = state.get('pid')
        self.domain_sid = state.get('domain_sid')
        self.hardened = state.get('hardened', False)

    def _save_state(self):
        data = {'realm': self.realm, 'netbios': self.netbios, 'dns_domain': self.dns_domain, 'ip': self.ip,
                'hostname': self.hostname, 'admin_password': self.admin_password, 'pid': self.pid,
                'domain_sid': self.domain_sid, 'hardened': self.hardened}
        tmp = self.state_file + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(data, handle, indent=1)
        os.replace(tmp, self.state_file)

    @property
    def provisioned(self):
        return os.path.exists(os.path.join(self.directory, 'private', 'sam.ldb'))

    @property
    def running(self):
        return bool(self.pid) and _pid_alive(self.pid)

    # -- address -------------------------------------------------------
    def _choose_ip(self):
        """Reserve self.ip (given or the first free 127.0.0.N) in the shared registry."""
        with _registry_lock():
            if self.ip:
                if _reserved(self.ip) or not address_free(self.ip):
                    raise SambaDCError('address %s is in use (a samba port is taken there)' % self.ip)
            else:
                start = 20 + (os.getpid() % 200)
                for offset in range(230):
                    candidate = '127.0.0.%d' % (20 + (start - 20 + offset) % 230)
                    if not _reserved(candidate) and address_free(candidate):
                        self.ip = candidate
                        break
                else:
                    raise SambaDCError('no free 127.0.0.N address for a samba DC')
            _reserve(self.ip, self.directory, [os.getpid()])

    # -- provisioning --------------------------------------------------
    def _dirs(self):
        names = ('run', 'log', 'client', 'client/lock', 'client/state', 'client/cache', 'client/private', 'client/run')
        return {name: os.path.join(self.directory, name) for name in names}

    def provision(self):
        for path in self._dirs().values():
            os.makedirs(path, exist_ok=True)
        d = self.directory
        options = {
            'interfaces': '%s/8' % self.ip,
            'bind interfaces only': 'yes',
            'pid directory': os.path.join(d, 'run'),
            'lock directory': os.path.join(d, 'lock'),
            'state directory': os.path.join(d, 'state'),
            'cache directory': os.path.join(d, 'cache'),
            'private dir': os.path.join(d, 'private'),
            'binddns dir': os.path.join(d, 'bind-dns'),
            'ncalrpc dir': os.path.join(d, 'ncalrpc'),
            # default /var/lib/samba/ntp_signd is machine-wide too
            'ntp signd socket directory': os.path.join(d, 'ntp_signd'),
            # own winbindd pipe: the default /run/samba/winbindd is shared by every DC on the host, and smbd
            # asking another DC's winbindd fails SMB session setups with NT_STATUS_INTERNAL_ERROR
            'winbindd socket directory': os.path.join(d, 'winbindd'),
            'log file': os.path.join(d, 'log', 'log.%m'),
            'logging': 'file',
            'log level': '1',
            'panic action': '',
            'dns forwarder': '127.0.0.1',
            'load printers': 'no',
            'printing': 'bsd',
            'printcap name': '/dev/null',
            'disable spoolss': 'yes',
            'prefork children': '2',
            'winbind scan trusted domains': 'no',
            'usershare path': '',
            # a throwaway DC: no fsync per LDB transaction (what Samba's own selftest does)
            'ldb:nosync': 'true',
            # as Windows DCs: SASL GSSAPI binds without sign/seal are fine inside TLS (ldap3 has no SASL layers)
            'ldap server require strong auth': 'yes' if self.hardened else 'allow_sasl_over_tls',
        }
        command = [_which('samba-tool'), 'domain', 'provision', '--server-role=dc', '--use-rfc2307',
                   '--dns-backend=SAMBA_INTERNAL', '--realm=%s' % self.realm, '--domain=%s' % self.netbios,
                   '--host-name=%s' % self.hostname, '--host-ip=%s' % self.ip, '--targetdir=%s' % d,
                   '--adminpass=%s' % self.admin_password]
        command += ['--option=%s=%s' % item for item in options.items()]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                                env=dict(os.environ, LC_ALL='C'))
        output = result.stdout.decode('utf-8', 'replace').replace(self.admin_password, '********')
        with open(os.path.join(self.log_dir, 'provision.log'), 'w') as handle:
            handle.write(output)
        if result.returncode != 0:
            raise SambaDCError('samba-tool domain provision failed (%d):\n%s' % (result.returncode, output[-3000:]))
        for line in output.splitlines():
            if 'DOMAIN SID:' in line:
                self.domain_sid = line.split('DOMAIN SID:')[1].strip()
        if self.hardened:
            self._set_global({'tls enabled': 'no', 'ldap server require strong auth': 'yes'})
        self._write_client_files()

    def _set_global(self, values):
        """Set options in the [global] section of the generated smb.conf (replacing what provision wrote)."""
        with open(self.smb_conf) as handle:
            lines = handle.read().splitlines()
        keys = {k.lower() for k in values}
        out, in_global = [], False
        for line in lines:
            stripped = line.strip()
            if stripped.startswith('['):
                if in_global:
                    out.extend('\t%s = %s' % item for item in values.items())
                in_global = stripped.lower() == '[global]'
            elif in_global and '=' in stripped and stripped.split('=', 1)[0].strip().lower() in keys:
                continue
            out.append(line)
        if in_global:
            out.extend('\t%s = %s' % item for item in values.items())
        with open(self.smb_conf, 'w') as handle:
            handle.write('\n'.join(out) + '\n')

    def _write_client_files(self):
        with open(self.hosts_file, 'w') as handle:
            handle.write('%s %s %s\n' % (self.ip, self.dc_hostname, self.hostname))
        with open(self.krb5_conf, 'w') as handle:
            handle.write(
                '[libdefaults]\n'
                '\tdefault_realm = {realm}\n'
                '\tdns_lookup_realm = false\n'
                '\tdns_lookup_kdc = false\n'
                '\trdns = false\n'
                '\tdns_canonicalize_hostname = false\n'
                '[realms]\n'
                '\t{realm} = {{\n'
                '\t\tkdc = {ip}\n'
                '\t\tadmin_server = {ip}\n'
                '\t\tkpasswd_server = {ip}\n'
                '\t}}\n'
                '[domain_realm]\n'
                '\t.{dns} = {realm}\n'
                '\t{dns} = {realm}\n'.format(realm=self.realm, ip=self.ip, dns=self.dns_domain))
        c = os.path.join(self.directory, 'client')
        with open(self.client_conf, 'w') as handle:
            handle.write(
                '[global]\n'
                '\tworkgroup = {nb}\n'
                '\trealm = {realm}\n'
                '\tsecurity = ads\n'
                '\tlock directory = {c}/lock\n'
                '\tstate directory = {c}/state\n'
                '\tcache directory = {c}/cache\n'
                '\tprivate dir = {c}/private\n'
                '\tpid directory = {c}/run\n'
                '\tncalrpc dir = {c}/ncalrpc\n'
                '\twinbindd socket directory = {c}/winbindd\n'
                '\tlog file = {log}/client.%m\n'.format(nb=self.netbios, realm=self.realm, c=c, log=self.log_dir))

    # -- life cycle ----------------------------------------------------
    def start(self, timeout=120):
        """Provision (first time), start samba, wait until LDAP, LDAPS, Kerberos and SMB answer."""
        if self.running:
            return self
        stop_distro_services()
        self._choose_ip()
        try:
            if not self.provisioned:
                self.provision()
            else:
                self._write_client_files()
            os.makedirs(self.log_dir, exist_ok=True)
            out = open(os.path.join(self.log_dir, 'samba.out'), 'ab')
            env = {k: v for k, v in os.environ.items() if k not in ('LD_PRELOAD', 'NSS_WRAPPER_HOSTS', 'KRB5_CONFIG')}
            self._process = subprocess.Popen(
                _private_winbindd_pipe([_which('samba'), '--foreground', '--no-process-group',
                                        '--configfile=%s' % self.smb_conf], os.path.join(self.directory, 'winbindd')),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env=env, close_fds=True)
            out.close()
            self.pid = self._process.pid
            with _registry_lock():
                _reserve(self.ip, self.directory, [self.pid])
            self._save_state()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        pending = [p for p in READY_PORTS if not (self.hardened and p == 636)]
        while True:
            if not _pid_alive(self.pid):
                raise SambaDCError('samba exited during start-up; see %s:\n%s' % (self.log_dir, self.log_tail()))
            pending = [port for port in pending if not self._answers(port)]
            if not pending and self._ldap_answers():
                return
            if time.monotonic() > deadline:
                raise SambaDCError('samba did not answer on %s within %d s; see %s:\n%s'
                                   % (pending or 'LDAP', timeout, self.log_dir, self.log_tail()))
            time.sleep(0.3)

    def _answers(self, port):
        try:
            with socket.create_connection((self.ip, port), timeout=1):
                return True
        except OSError:
            return False

    def _ldap_answers(self):
        """An anonymous rootDSE read over LDAPS (hardened: plain LDAP) succeeds (ldap3, else a TLS handshake)."""
        try:
            import ldap3  # pylint: disable=import-outside-toplevel
        except ImportError:
            if self.hardened:
                return True
            import ssl  # pylint: disable=import-outside-toplevel
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                with socket.create_connection((self.ip, 636), timeout=2) as raw:
                    with ctx.wrap_socket(raw):
                        return True
            except OSError:
                return False
        try:
            server = ldap3.Server(self.ip, port=389 if self.hardened else 636, use_ssl=not self.hardened,
                                  get_info=ldap3.NONE, connect_timeout=2)
            conn = ldap3.Connection(server, auto_bind=True, receive_timeout=5)
            ok = conn.search('', '(objectClass=*)', search_scope=ldap3.BASE, attributes=['defaultNamingContext'])
            conn.unbind()
            return bool(ok)
        except Exception:  # pylint: disable=broad-except
            return False

    def log_tail(self, lines=40):
        text = []
        for name in ('samba.out', 'log.samba'):
            path = os.path.join(self.log_dir, name)
            try:
                with open(path, errors='replace') as handle:
                    text.append('--- %s\n%s' % (name, ''.join(handle.readlines()[-lines:])))
            except OSError:
                pass
        return '\n'.join(text)

    def stop(self, timeout=30):
        """SIGTERM samba, wait, then SIGTERM/SIGKILL what is left of its processes; no stray processes.

        Returns the pids that needed SIGKILL.
        """
        def alive(pids):
            if self._process is not None:
                self._process.poll()
            return [p for p in pids if _pid_alive(p)]

        def ours():
            found = set(_processes_using(self.smb_conf))
            if self.pid and _pid_alive(self.pid):
                found.update(process_tree(self.pid))
            return found

        pids = ours()
        if self.pid and _pid_alive(self.pid):
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while alive([self.pid]) and time.monotonic() < deadline:
                pids |= ours()
                time.sleep(0.2)
        # Helpers started on demand (samba-dcerpcd, rpcd_*) sit in their own sessions.
        pids |= set(_processes_using(self.smb_conf))
        for pid in alive(pids):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftover = alive(pids | set(_processes_using(self.smb_conf)))
        for pid in leftover:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if self._process is not None:
            with contextlib.suppress(Exception):
                self._process.wait(5)
            self._process = None
        if self.ip:
            _release(self.ip, self.directory)
        self.pid = None
        if os.path.exists(self.state_file):
            self._save_state()
        return leftover

    def destroy(self):
        """stop() and remove the folder if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

    # -- client helpers ------------------------------------------------
    def run_client(self, command, input_data=None, extra_env=None, timeout=120):
        """Run a client command with env (krb5.conf, nss_wrapper hosts); return CompletedProcess."""
        return subprocess.run(command, input=input_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.child_env(extra_env), timeout=timeout, check=False)

    def kinit(self, principal, password, ccache):
        """kinit principal into ccache (FILE:path) with password on stdin; return CompletedProcess."""
        return self.run_client([_which('kinit'), '-c', ccache, principal], input_data=(password + '\n').encode(),
                               extra_env={'KRB5CCNAME': ccache})


WINBINDD_PIPE_DIR = '/run/samba/winbindd'


def _private_winbindd_pipe(command, socket_dir):
    """Run command in its own mount namespace where /run/samba/winbindd is socket_dir.

    smbd reaches winbindd at the compiled-in /run/samba/winbindd whatever
    smb.conf says; with several DCs on one host it asks another DC's winbindd
    (or a dead one) and SMB session setups fail with NT_STATUS_INTERNAL_ERROR.
    Needs root and unshare(1); otherwise the command is returned unchanged.
    """
    unshare = shutil.which('unshare')
    if not unshare or os.geteuid() != 0:
        return command
    os.makedirs(socket_dir, exist_ok=True)
    os.makedirs(WINBINDD_PIPE_DIR, exist_ok=True)
    script = 'mount --bind "$1" %s || exit 97; shift; exec "$@"' % WINBINDD_PIPE_DIR
    return [unshare, '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', socket_dir] + list(command)


def _djoin_file_to_raw(data):
    text = data.decode('utf-16-le') if data[:2] == b'\xff\xfe' else data.decode('ascii')
    text = text.lstrip('\ufeff').rstrip('\x00').strip()
    return base64.b64decode(text, validate=True)


def net_offlinejoin_provision(dc, machine_name, machine_account_ou=None, reuse=False, defpwd=False,
                              raw=True, workdir=None):
    """Run Samba's ``net offlinejoin provision`` against dc; return the package.

    raw=True returns the raw NDR bytes, raw=False the file as net wrote it
    (djoin form: UTF-16LE base64 with BOM and NUL). This is the independent
    reference producer for tests and benchmarks.
    """
    workdir = workdir or os.path.join(dc.directory, 'client')
    fd, savefile = tempfile.mkstemp(prefix='odj-%s-' % machine_name, suffix='.djoin', dir=workdir)
    os.close(fd)
    os.unlink(savefile)
    command = [_which('net'), 'offlinejoin', 'provision', '--configfile=%s' % dc.client_conf,
               'domain=%s' % dc.dns_domain, 'machine_name=%s' % machine_name, 'dcname=%s' % dc.dc_hostname,
               'savefile=%s' % savefile, '-U', dc.admin_user]
    if machine_account_ou:
        command.append('machine_account_ou=%s' % machine_account_ou)
    if reuse:
        command.append('reuse')
    if defpwd:
        command.append('defpwd')
    try:
        result = dc.run_client(command, extra_env={'PASSWD': dc.admin_password})
        if result.returncode != 0 or not os.path.exists(savefile):
            message = (result.stdout + result.stderr).decode('utf-8', 'replace').replace(dc.admin_password, '***')
            raise SambaDCError('net offlinejoin provision %s failed (%d): %s' % (machine_name, result.returncode,
                                                                                 message.strip()))
        with open(savefile, 'rb') as handle:
            data = handle.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(savefile)
    return _djoin_file_to_raw(data) if raw else data


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='action', required=True)
    start = sub.add_parser('start', help='provision (first time) and start; print JSON')
    start.add_argument('--dir', required=True)
    start.add_argument('--realm', default='CORP.EXAMPLE.TEST')
    start.add_argument('--domain', default='CORP', help='NetBIOS domain name')
    start.add_argument('--ip', default=None, help='127.0.0.N (default: first free)')
    start.add_argument('--hostname', default='dc1')
    start.add_argument('--admin-password', default=None, help='default: random (printed in the JSON)')
    start.add_argument('--timeout', type=int, default=120)
    start.add_argument('--hardened', action='store_true',
                       help='no certificate (tls enabled = no) and ldap server require strong auth = yes')
    for name in ('stop', 'env', 'status'):
        p = sub.add_parser(name)
        p.add_argument('--dir', required=True)
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.dir)
    if args.action == 'start':
        os.makedirs(directory, exist_ok=True)
        dc = SambaDC(directory, realm=args.realm, domain=args.domain, ip=args.ip,
                     admin_password=args.admin_password, hostname=args.hostname, hardened=args.hardened)
        # Detach: the DC outlives this command; `stop --dir` ends it.
        dc.start(timeout=args.timeout)
        dc._process = None  # pylint: disable=protected-access
        print(json.dumps(dc.info(), indent=1))
        return 0
    if not os.path.exists(os.path.join(directory, STATE_FILE)):
        print('no DC state in %s' % directory, file=sys.stderr)
        return 2
    dc = SambaDC(directory)
    if args.action == 'stop':
        leftover = dc.stop()
        print(json.dumps({'stopped': True, 'killed': leftover}))
        return 0
    print(json.dumps(dc.info(), indent=1))
    return 0 if (args.action == 'env' or dc.running) else 1


if __name__ == '__main__':
    sys.exit(_main())
