# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One authenticated LDAP connection to one DC: the transport, the bind, and searches on it.

* chooses the transport (``tls_mode``): LDAPS (636), StartTLS on 389, or plain
  389 with a SASL security layer; ``auto`` takes LDAPS or StartTLS when the
  DC's certificate validates (``tls``), else sealed SASL;
* binds with SASL GSS-SPNEGO through pyspnego (Kerberos from a password, a
  credential cache or a keytab (``kerberos.kinit_keytab``); NTLM inside SPNEGO
  when Kerberos is not possible), with tls-server-end-point channel binding
  inside TLS and signing + sealing outside it; or, only inside TLS, with a
  simple bind;
* searches (paged or not), the rootDSE, and a ``Pipeline`` for batches.

``Connection`` is the base of ``client.ADClient``, which adds the domain and
account operations. No NTLM or Kerberos is implemented here: pyspnego (and
through it the system GSSAPI library) does both; ldap3 encodes and decodes the
LDAP messages (``pipeline.Wire``).
"""

from __future__ import annotations

import os
import socket
import ssl

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError, clean, result_error
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.kerberos import kinit_keytab
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.options import (
    AUTH_PROTOCOLS, TLS_MODES, qualify_user)
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.pipeline import (
    DEFAULT_WINDOW, SASL_BIND_IN_PROGRESS, Pipeline, Wire)
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.tls import (
    TLSRefused, check_certificate, end_point_binding, is_ip, tls_context, verify_failure)
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.values import text_value
from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import private_temp_dir, remove_workdir

try:
    from ldap3.protocol.rfc2696 import paged_search_control
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = _exc

LDAPS_PORTS = (636, 3269)
# SASL mechanism of every non-simple bind: SPNEGO carries Kerberos or NTLM and, on a plain connection,
# negotiates signing and sealing without the RFC 4752 layer exchange (MS-ADTS 5.1.1.1.2)
SASL_MECHANISM = 'GSS-SPNEGO'
PAGED_RESULTS_OID = '1.2.840.113556.1.4.319'


class _Layer(object):
    """The SASL security layer of a bound GSS context: seal (or only sign) and unseal each buffer."""

    def __init__(self, context, encrypt):
        self.context = context
        self.encrypt = encrypt

    def wrap(self, data, encrypt=True):
        return self.context.wrap(data, encrypt=self.encrypt and encrypt)

    def unwrap(self, data):
        return self.context.unwrap(data)


class Connection(object):
    """One authenticated LDAP connection to one DC (see ``Wire`` for the framing).

    server: DC name or address; server_name: the name to check its certificate and
    ask Kerberos for (default server). Options as the modules document them:
    auth_protocol (negotiate, kerberos, ntlm, simple), tls_mode (auto, ldaps,
    start_tls, none), cert_validation (always, ignore, ignore_hostname), encrypt,
    port, ca_cert, ccache, keytab. ``domain``: qualifies a bare user name.
    ``auth``/``validate_certs``/``principal``/``use_ssl`` are the old names.

    After ``connect()``: ``transport`` (ldaps, start_tls, sasl), ``auth_used``
    (kerberos, ntlm, simple), ``sealed`` and ``notes`` (why a transport was skipped).
    """

    def __init__(self, server, username=None, password=None, auth_protocol='negotiate', tls_mode='auto', port=None,
                 cert_validation='always', ca_cert=None, encrypt=True, timeout=10, ccache=None, keytab=None,
                 server_name=None, domain=None, run_command=None, auth=None, validate_certs=None, principal=None,
                 use_ssl=None):
        if not HAS_LDAP3:
            raise ADError('the ldap3 Python package is required: %s' % LDAP3_IMPORT_ERROR, 'missing_library')
        if auth == 'kerberos':
            auth_protocol = 'kerberos'
        elif auth == 'simple':
            auth_protocol = 'simple'
        if validate_certs is False:
            cert_validation = 'ignore'
        if use_ssl is True and tls_mode == 'auto':
            tls_mode = 'ldaps'
        self.server = server
        self.server_name = server_name or server
        self.port = port
        self.tls_mode = tls_mode
        self.auth_protocol = auth_protocol
        self.cert_validation = cert_validation
        self.encrypt = encrypt
        self.domain = domain
        self.username = qualify_user(username or principal, domain)
        self._password = password
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.ccache = ccache
        self.keytab = keytab
        # run_command(argv, data=bytes, env=dict) -> (rc, stdout, stderr): runs kinit (the module passes
        # AnsibleModule.run_command); without it Kerberos keytabs and Kerberos password checks are unavailable
        self.run_command = run_command
        self.conn = None
        self.port_used = None
        self.peer_address = None
        self.transport = None
        self.auth_used = None
        self.sealed = False
        self.notes = []
        self._rootdse = None
        self._tmpdir = None
        self._addresses = None

    @property
    def use_ssl(self):
        """True when the connection is TLS (LDAPS or StartTLS)."""
        return self.transport in ('ldaps', 'start_tls')

    @property
    def protected(self):
        """True when what is sent cannot be read on the wire: TLS, or a sealed SASL layer."""
        return self.use_ssl or self.sealed

    def connection_facts(self):
        """The result's ``connection``: transport, auth, server, port."""
        return dict(transport=self.transport, auth=self.auth_used, server=self.server, port=self.port_used,
                    sealed=self.sealed)

    # -- connection ----------------------------------------------------
    def where(self, port=None):
        """host:port of the DC, for messages."""
        return '%s:%d' % (self.server, port or self.port_used or self.port or 389)

    def _ports(self):
        """(LDAPS port, port of the 389 transports) from tls_mode and port."""
        if self.tls_mode == 'ldaps':
            return self.port or 636, None
        if self.tls_mode == 'auto':
            if self.port in LDAPS_PORTS:
                return self.port, 389
            return 636, self.port or 389
        return None, self.port or 389

    def _resolve(self):
        if self._addresses is None:
            try:
                infos = socket.getaddrinfo(self.server, None, 0, socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise ADError('the DC name %s does not resolve (%s); check the name or DNS, or give the DC\'s '
                              'address' % (self.server, exc.strerror or exc), 'unreachable')
            self._addresses = [info[4][0] for info in infos]
        return self._addresses

    def _socket(self, port):
        """A TCP connection to the DC on port (refused/unreachable -> ADError unreachable)."""
        errors = []
        for address in self._resolve():
            try:
                return socket.create_connection((address, port), timeout=self.timeout)
            except OSError as exc:
                errors.append('%s: %s' % (address, exc.strerror or exc))
        raise ADError('cannot reach the DC %s (%s)' % (self.where(port), '; '.join(errors)), 'unreachable')

    def _open_ldaps(self, port):
        context = tls_context(self.cert_validation, self.ca_cert)

        def wrap(ctx):
            return ctx.wrap_socket(self._socket(port), server_hostname=None if is_ip(self.server_name)
                                   else self.server_name)
        try:
            sock = wrap(context)
        except ssl.SSLCertVerificationError as exc:
            raise TLSRefused(verify_failure(exc, self.where(port), self.ca_cert, wrap), True)
        except (ssl.SSLError, ConnectionResetError) as exc:
            raise TLSRefused(ADError('TLS to %s failed: %s' % (self.where(port), clean(str(exc))), 'tls'))
        except socket.timeout:
            raise TLSRefused(ADError('the DC %s did not answer the TLS handshake within %s s'
                                     % (self.where(port), self.timeout), 'unreachable'))
        except ADError as exc:
            if exc.kind == 'unreachable' and 'does not resolve' not in str(exc):
                raise TLSRefused(exc, no_listener='refused' in str(exc))
            raise
        try:
            der = check_certificate(sock, self.server_name, self.cert_validation, self.where(port))
        except TLSRefused:
            sock.close()
            raise
        wire = Wire(sock, self.timeout)
        wire.tls = True
        return wire, der

    def _open_start_tls(self, port):
        wire = Wire(self._socket(port), self.timeout)
        context = tls_context(self.cert_validation, self.ca_cert)
        hostname = None if is_ip(self.server_name) else self.server_name
        try:
            refused = wire.start_tls(context, hostname)
        except ssl.SSLCertVerificationError as exc:
            wire.close()

            def wrap(ctx):
                again = Wire(self._socket(port), self.timeout)
                if again.start_tls(ctx, hostname) is not None:
                    raise ADError('StartTLS refused', 'tls')
                return again.sock
            raise TLSRefused(verify_failure(exc, self.where(port), self.ca_cert, wrap), True)
        except (ssl.SSLError, OSError) as exc:
            wire.close()
            raise TLSRefused(ADError('StartTLS with %s failed: %s' % (self.where(port), clean(str(exc))), 'tls'))
        if refused is not None:
            wire.close()
            raise TLSRefused(ADError('the DC %s offers no StartTLS (%s %s)' % (
                self.where(port), refused.get('description'), clean(refused.get('message'))), 'tls'))
        try:
            der = check_certificate(wire.sock, self.server_name, self.cert_validation, self.where(port))
        except TLSRefused:
            wire.close()
            raise
        return wire, der

    def connect(self):
        """Open, choose the transport (tls_mode) and bind; raises ADError (unreachable, tls, bad_credentials, ...)."""
        if self.tls_mode not in TLS_MODES:
            raise ADError('tls_mode must be one of %s, not %s' % (', '.join(TLS_MODES), self.tls_mode), 'options')
        if self.auth_protocol not in AUTH_PROTOCOLS:
            raise ADError('auth_protocol must be one of %s, not %s' % (', '.join(AUTH_PROTOCOLS), self.auth_protocol),
                          'options')
        if self.auth_protocol == 'simple' and self.tls_mode == 'none':
            raise ADError('auth_protocol=simple with tls_mode=none would send the password readable on the wire; '
                          'a simple bind is only made inside TLS (use tls_mode auto, ldaps or start_tls, or '
                          'auth_protocol negotiate for a sealed SASL bind)', 'options')
        if self.auth_protocol == 'simple' and (not self.username or self._password is None):
            raise ADError('auth_protocol=simple needs domain_username and domain_password', 'bad_credentials')
        if self.auth_protocol != 'simple':
            self._prepare_kerberos()
        self._resolve()
        ldaps_port, plain_port = self._ports()
        attempts = []
        if ldaps_port:
            attempts.append(('ldaps', ldaps_port))
        if self.tls_mode in ('auto', 'start_tls'):
            attempts.append(('start_tls', plain_port))
        if self.tls_mode in ('auto', 'none'):
            attempts.append(('sasl', plain_port))
        refused = []
        certificate_failed = no_listener = False
        for transport, port in attempts:
            if transport == 'sasl' and self.auth_protocol == 'simple':
                break
            if transport == 'start_tls' and self.tls_mode == 'auto' and (certificate_failed or no_listener):
                # the same certificate would fail the same way; a DC with no LDAPS listener has no certificate
                # (and Samba without TLS leaves a StartTLS request unanswered)
                continue
            der = None
            try:
                if transport == 'ldaps':
                    wire, der = self._open_ldaps(port)
                elif transport == 'start_tls':
                    wire, der = self._open_start_tls(port)
                else:
                    wire = Wire(self._socket(port), self.timeout)
            except TLSRefused as exc:
                if self.tls_mode != 'auto':
                    raise exc.error
                certificate_failed = certificate_failed or exc.certificate
                no_listener = no_listener or exc.no_listener
                refused.append(exc.error)
                continue
            self.conn = wire
            self.transport = transport
            self.port_used = port
            try:
                self._bind(der)
            except BaseException:
                self.conn.close()
                self.conn = None
                raise
            try:
                self.peer_address = wire.sock.getpeername()[0]
            except (OSError, AttributeError, IndexError):
                self.peer_address = None
            if transport == 'sasl' and refused:
                self.notes.append('no TLS with the DC (%s); the connection is %s SASL on port %d instead'
                                  % ('; '.join(str(e) for e in refused), 'sealed' if self.sealed else 'signed', port))
            return self
        if refused:
            if self.auth_protocol == 'simple':
                raise ADError('%s; auth_protocol=simple is only used inside TLS (a simple bind on a plain '
                              'connection would send the password readable; auth_protocol negotiate binds with '
                              'sealed SASL instead)' % '; '.join(str(e) for e in refused), refused[0].kind)
            raise refused[-1]
        raise ADError('no transport to try with the DC %s' % self.server, 'options')

    # -- binds -----------------------------------------------------------
    def _bind(self, der):
        if self.auth_protocol == 'simple':
            self._bind_simple()
        else:
            self._bind_sasl(der)

    def _bind_simple(self):
        password = self._password
        if isinstance(password, str):
            # as is: SASLprep would refuse the random UTF-16 text of machine passwords; the DC takes UTF-8
            password = password.encode('utf-8', 'surrogatepass')
        try:
            response = self.conn.bind_simple(self.username, password)
        except OSError as exc:
            raise ADError('bind to %s failed: %s' % (self.where(), clean(str(exc))), 'unreachable')
        code = response.get('result')
        if code == 0:
            self.auth_used = 'simple'
            return
        if code == 49:
            raise ADError('the DC %s refused the credentials of %s (invalid user name or password)'
                          % (self.where(), self.username), 'bad_credentials', code)
        if code in (8, 13):
            raise ADError('the DC %s refuses a simple bind: it requires signing (LDAP server signing '
                          'requirements / ldap server require strong auth); use auth_protocol negotiate, '
                          'kerberos or ntlm (%s)' % (self.where(), clean(response.get('message'))),
                          'tls_required', code)
        raise ADError('bind to %s failed: %s %s' % (self.where(), response.get('description'),
                                                    clean(response.get('message'))), 'bad_credentials', code)

    def _spnego_context(self, der, protocol):
        """A pyspnego client context for protocol (kerberos or ntlm) on this connection."""
        try:
            import spnego  # pylint: disable=import-outside-toplevel
            from spnego.channel_bindings import GssChannelBindings  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise ADError('Kerberos and NTLM binds need the pyspnego Python package (%s)' % exc, 'missing_library')
        if self.conn.tls:
            # AD refuses SASL signing inside TLS; TLS protects the session, channel binding ties the bind to it
            context_req = spnego.ContextReq.mutual_auth | spnego.ContextReq.no_integrity
        else:
            context_req = (spnego.ContextReq.mutual_auth | spnego.ContextReq.integrity |
                           spnego.ContextReq.replay_detect | spnego.ContextReq.sequence_detect)
            if self.encrypt:
                context_req |= spnego.ContextReq.confidentiality
        bindings = GssChannelBindings(application_data=end_point_binding(der)) if der else None
        password = self._password
        if isinstance(password, bytes):
            password = password.decode('utf-8', 'surrogatepass')
        credential = self.username
        if password is None and self.ccache:
            credential = spnego.KerberosCCache(ccache=self.ccache, principal=self.username)
        context = spnego.client(credential, password, hostname=self.server_name, service='ldap',
                                channel_bindings=bindings, context_req=context_req, protocol=protocol)
        if protocol == 'ntlm' and self.conn.tls:
            # Without signing there is no session key to exchange; pyspnego would still send a 1-byte
            # EncryptedRandomSessionKey, which Samba refuses (Windows ignores it). Ask for no key exchange.
            from spnego._ntlm_raw.messages import NegotiateFlags  # pylint: disable=import-outside-toplevel
            context._context_req &= ~NegotiateFlags.key_exch  # pylint: disable=protected-access
        return context

    def _protocols(self):
        if self.auth_protocol == 'negotiate':
            # Kerberos when a ticket for ldap/<server_name> can be had, else NTLM (what SPNEGO would pick)
            return ['ntlm'] if is_ip(self.server_name) else ['kerberos', 'ntlm']
        return [self.auth_protocol]

    def _bind_sasl(self, der):
        try:
            import spnego.exceptions as spnego_errors  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise ADError('Kerberos and NTLM binds need the pyspnego Python package (%s)' % exc, 'missing_library')
        protocols = self._protocols()
        local_errors = []
        for protocol in protocols:
            try:
                context = self._spnego_context(der, protocol)
                token = context.step()
            except ADError:
                raise
            except Exception as exc:  # pylint: disable=broad-except  # SpnegoError, krb5/gssapi errors, ImportError
                # nothing sent yet: Kerberos not possible here (no ticket, no KDC for the realm, no GSSAPI library)
                local_errors.append((protocol, exc))
                continue
            try:
                while True:
                    response = self.conn.bind_sasl(SASL_MECHANISM, token)
                    code = response.get('result')
                    server_token = response.get('saslCreds')
                    if code not in (0, SASL_BIND_IN_PROGRESS):
                        raise self._sasl_refused(response, protocol)
                    if server_token and not context.complete:
                        token = context.step(server_token)
                    elif not context.complete:
                        raise ADError('the DC %s ended the SASL bind before the %s exchange completed'
                                      % (self.where(), protocol), 'protocol')
                    if code == 0:
                        break
            except spnego_errors.SpnegoError as exc:
                raise self._spnego_failure(exc, protocol)
            except OSError as exc:
                raise ADError('bind to %s failed: %s' % (self.where(), clean(str(exc))), 'unreachable')
            self.auth_used = protocol
            if not self.conn.tls:
                self.conn.security = _Layer(context, self.encrypt)
                self.sealed = bool(self.encrypt)
            return
        raise self._spnego_failure(local_errors[-1][1], local_errors[-1][0], local_errors[:-1])

    def _sasl_refused(self, response, protocol):
        code = response.get('result')
        message = clean(response.get('message'))
        who = self.username or 'the Kerberos ticket'
        name = 'NTLM' if protocol == 'ntlm' else 'Kerberos'
        if code == 49:
            return ADError('the DC %s refused the %s credentials of %s (invalid user name or password, or the account '
                           'is disabled or locked: %s)' % (self.where(), name, who, message), 'bad_credentials', code)
        if code in (8, 13):
            return ADError('the DC %s requires a stronger bind (%s)' % (self.where(), message), 'tls_required', code)
        return ADError('SASL %s bind to %s failed: %s (%s)' % (name, self.where(), response.get('description'),
                                                               message), 'bad_credentials', code)

    def _spnego_failure(self, exc, protocol, earlier=()):
        text = clean(getattr(exc, 'message', None) or str(exc))
        before = ''.join('; Kerberos was not possible first: %s' % clean(getattr(e, 'message', None) or str(e))
                         for p, e in earlier if p == 'kerberos')
        if protocol == 'kerberos':
            where = ('from the credential cache %s' % self.ccache) if self.ccache else (
                'for %s' % self.username if self.username else 'from the default credential cache (KRB5CCNAME)')
            return ADError('Kerberos authentication to %s (service ldap/%s) failed %s: %s'
                           % (self.where(), self.server_name, where, text), 'kerberos')
        return ADError('NTLM authentication to %s as %s failed: %s%s' % (self.where(), self.username, text, before),
                       'bad_credentials')

    def _prepare_kerberos(self):
        if self._password is None and self.auth_protocol == 'negotiate':
            self.auth_protocol = 'kerberos'  # no password: a ticket is the only credential
        if self.auth_protocol == 'ntlm' and self._password is None:
            raise ADError('auth_protocol=ntlm needs domain_username and domain_password', 'bad_credentials')
        if self._password is not None or not self.keytab:
            return
        if not self.ccache:
            self.ccache = 'FILE:%s' % os.path.join(self.workdir(), 'ccache')
        kinit_keytab(self.keytab, self.username, self.ccache, self.run_command)

    def workdir(self):
        """This connection's private temporary folder (0700; krb5.conf files, credential caches), removed by close()."""
        if self._tmpdir is None:
            self._tmpdir = private_temp_dir('krb5-', legacy_prefix='odj-krb5-')
        return self._tmpdir

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
        self.conn = None
        if self._tmpdir:
            remove_workdir(self._tmpdir, parent_too=True)
            self._tmpdir = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    # -- primitives ----------------------------------------------------
    def search(self, base, flt, scope='subtree', attributes=None, allow_missing=False, controls=None,
               page_size=None):
        """Return a list of (dn, raw_attributes) entries (bytes values); page_size: paged results (RFC 2696)."""
        entries = []
        cookie = None
        while True:
            pipe = self.pipeline(1)
            replies = []
            page = list(controls or [])
            if page_size:
                page.append(paged_search_control(False, page_size, cookie))
            pipe.search(base, flt, attributes or [], replies.append, scope=scope, controls=page or None)
            pipe.run()
            reply = replies[0]
            what = 'LDAP search at %s' % (base or 'rootDSE')
            if reply.error is not None:
                raise ADError('%s failed: %s' % (what, clean(reply.error)), 'unreachable')
            if reply.code == 32 and allow_missing:
                return []
            if reply.code != 0:
                raise result_error(reply.code, reply.description, reply.message, what)
            entries.extend(reply.entries)
            cookie = ((reply.controls or {}).get(PAGED_RESULTS_OID) or {}).get('value', {}).get('cookie')
            if not page_size or not cookie:
                return entries

    def rootdse(self):
        if self._rootdse is None:
            attrs = ['defaultNamingContext', 'rootDomainNamingContext', 'configurationNamingContext',
                     'dnsHostName', 'domainFunctionality', 'forestFunctionality', 'serverName', 'isSynchronized']
            entries = self.search('', '(objectClass=*)', 'base', attrs)
            if not entries:
                raise ADError('the DC returned no rootDSE', 'protocol')
            self._rootdse = {k: text_value(v[0]) for k, v in entries[0][1].items() if v}
        return self._rootdse

    def exists(self, dn):
        return bool(self.search(dn, '(objectClass=*)', 'base', ['objectClass'], allow_missing=True))

    # -- pipelined batch operations (several requests in flight on this connection) --
    def pipeline(self, window=DEFAULT_WINDOW):
        """A Pipeline on this connection; queue requests (``ADClient.queue_*``), then ``run()`` it."""
        return Pipeline(self.conn, window)

    def account_options(self):
        """Connection keyword arguments to bind as another account over the same kind of connection."""
        return dict(server=self.peer_address or self.server, server_name=self.server_name, port=self.port,
                    tls_mode=self.tls_mode, cert_validation=self.cert_validation, ca_cert=self.ca_cert,
                    encrypt=self.encrypt, timeout=self.timeout, domain=self.domain,
                    auth_protocol='ntlm' if self.auth_protocol != 'simple' else 'simple')
