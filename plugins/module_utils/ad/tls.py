# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS with a DC: the certificate checks, the errors that explain a refusal, and the channel binding.

* ``tls_context``: the SSL context for a ``cert_validation`` mode and ``ca_cert``;
* ``check_certificate``: RFC 6125 name matching (``name_matches``) against the
  name the caller asked for, with an error that lists the names the
  certificate holds (``certificate_names``);
* ``verify_failure``: for a certificate that did not validate, who issued it and
  which CAs were trusted;
* ``end_point_binding``: the RFC 5929 tls-server-end-point channel binding AD
  checks for a bind inside TLS.

Certificates are read with ``cryptography``; the handshake is Python's ``ssl``.
"""

from __future__ import annotations

import ipaddress
import ssl

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError, clean


class TLSRefused(Exception):
    """TLS is not possible with this DC: ``certificate`` True when the DC's certificate did not validate."""

    def __init__(self, error, certificate=False, no_listener=False):
        super(TLSRefused, self).__init__(str(error))
        self.error = error
        self.certificate = certificate
        self.no_listener = no_listener


def is_ip(text):
    """True when text is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def end_point_binding(der):
    """RFC 5929 tls-server-end-point channel binding of a server certificate (MS-ADTS: what AD checks)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
    cert = x509.load_der_x509_certificate(der)
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # pylint: disable=broad-except  # unsupported algorithm (Ed25519 has none)
        algorithm = None
    if algorithm is None or algorithm.name in ('md5', 'sha1'):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return b'tls-server-end-point:' + digest.finalize()


def certificate_names(der):
    """(DNS names, IP addresses, subject CN) a certificate is valid for, and its issuer (text)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    cert = x509.load_der_x509_certificate(der)
    dns_names, addresses = [], []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        addresses = [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    common = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return dns_names, addresses, common, cert.issuer.rfc4514_string(), cert.subject == cert.issuer


def name_matches(asked, dns_names, addresses, common):
    """RFC 6125 matching of the name or address asked for (one left-most wildcard label)."""
    try:
        ip = ipaddress.ip_address(asked)
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(ip, a) for a in addresses)
    asked = asked.lower().rstrip('.')
    for pattern in (dns_names or common):
        pattern = pattern.lower().rstrip('.')
        if pattern == asked:
            return True
        if pattern.startswith('*.') and '.' in asked and asked.split('.', 1)[1] == pattern[2:]:
            return True
    return False


def _same_ip(ip, text):
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


def tls_context(cert_validation, ca_cert):
    """SSL context for cert_validation (always, ignore, ignore_hostname) trusting ca_cert or the system's CAs.

    Host names are not checked here but by ``check_certificate``, for an error that lists them.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    if cert_validation == 'ignore':
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = ssl.CERT_REQUIRED
        if ca_cert:
            try:
                context.load_verify_locations(cafile=ca_cert)
            except (OSError, ssl.SSLError) as exc:
                raise ADError('ca_cert %s cannot be read as PEM CA certificates (%s)' % (ca_cert, exc), 'tls')
    return context


def check_certificate(sock, server_name, cert_validation, where):
    """The DC's certificate (DER) after the name check of cert_validation always; TLSRefused naming its names."""
    der = sock.getpeercert(binary_form=True)
    if cert_validation != 'always':
        return der
    dns_names, addresses, common, _issuer, _self_signed = certificate_names(der)
    if not name_matches(server_name, dns_names, addresses, common):
        listed = ', '.join(dns_names + addresses) or ('CN=%s' % ', '.join(common) if common else 'no name')
        raise TLSRefused(ADError(
            'TLS to %s: the DC\'s certificate is for %s, not for %s (the %s asked for); connect by a name the '
            'certificate holds' % (where, listed, server_name, 'address' if is_ip(server_name) else 'name'), 'tls'),
            True)
    return der


def verify_failure(exc, where, ca_cert, wrap):
    """ADError for a certificate that did not validate: who signed it, which CAs were trusted.

    wrap(context) opens the connection again with that context (the certificate is read without validation).
    """
    der = None
    try:
        probe = ssl.create_default_context()
        probe.check_hostname = False
        probe.verify_mode = ssl.CERT_NONE
        with wrap(probe) as sock:
            der = sock.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ADError):
        pass
    trusted = 'the CA file ca_cert %s' % ca_cert if ca_cert else \
        'the system\'s trusted CAs (give ca_cert with the CA that signs it)'
    reason = getattr(exc, 'verify_message', None) or clean(str(exc))
    if der is not None:
        _dns, _ips, common, issuer, self_signed = certificate_names(der)
        subject = 'CN=%s' % common[0] if common else 'the certificate'
        if self_signed:
            what = 'is self-signed (%s) and not in %s' % (subject, trusted)
        else:
            what = '(%s) is issued by %s, which is not in %s' % (subject, issuer, trusted)
        if getattr(exc, 'verify_code', None) == 10:
            what = '(%s) has expired' % subject
        text = 'TLS to %s: the DC\'s certificate %s' % (where, what)
    else:
        text = 'TLS to %s: the DC\'s certificate does not validate (%s); trusted: %s' % (where, reason, trusted)
    return ADError(text, 'tls')
