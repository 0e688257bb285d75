# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """The LDAP connection options of every module that talks to a DC (names and meanings as microsoft.ad's)."""

    DOCUMENTATION = r'''
options:
  port:
    description:
      - LDAP port of the DC. Default by transport - V(636) for LDAPS, V(389) for StartTLS and SASL.
      - With O(tls_mode=auto), V(636) (or V(3269)) is taken as the LDAPS port and 389 stays the plain port.
    type: int
  domain_username:
    description:
      - The account to bind as - C(user@domain), C(DOMAIN\user), or a bare C(user), which is taken as
        C(user@DOMAIN) of the domain (as C(net -U) and Windows do).
      - With O(keytab), the Kerberos principal of the keytab entry.
      - If not set, the environment variable E(WINIMAGE_DOMAIN_USERNAME) is used.
    type: str
  domain_password:
    description:
      - Password of O(domain_username). Without it, Kerberos is used (O(ccache), O(keytab), or the default
        credential cache E(KRB5CCNAME)).
      - If not set, the environment variable E(WINIMAGE_DOMAIN_PASSWORD) is used.
    type: str
  auth_protocol:
    description:
      - How to authenticate - V(negotiate) (Kerberos when a ticket for C(ldap/<DC name>) can be had, else NTLM, both
        inside SASL GSS-SPNEGO), V(kerberos), V(ntlm), or V(simple) (an LDAP simple bind, only ever inside TLS).
      - The meaning of the option of the same name of the C(microsoft.ad) LDAP plugins.
      - If not set, the environment variable E(WINIMAGE_AUTH_PROTOCOL) is used.
    type: str
    choices: [negotiate, kerberos, ntlm, simple]
    default: negotiate
  encrypt:
    description:
      - On a connection without TLS, seal (encrypt) the SASL layer as well as sign it. Passwords of new accounts are
        only sent over TLS or a sealed layer, so V(false) makes account creation and password resets fail there.
      - Ignored inside TLS (a DC refuses SASL signing there; TLS protects the session).
    type: bool
    default: true
  tls_mode:
    description:
      - The transport. V(auto) - LDAPS when the DC's certificate validates; StartTLS on 389 when the LDAPS port does
        not answer (a DC with no LDAPS listener and a DC whose certificate does not validate are not asked for
        StartTLS); otherwise SASL on 389 with signing and sealing. A warning says why TLS was not used.
      - V(ldaps), V(start_tls) - only that transport; a certificate that does not validate is an error.
      - V(none) - SASL with signing and sealing on 389 (Kerberos or NTLM). Never a simple bind.
      - If not set, the environment variable E(WINIMAGE_TLS_MODE) is used.
    type: str
    choices: [auto, ldaps, start_tls, none]
    default: auto
  cert_validation:
    description:
      - V(always) - the DC's certificate must chain to O(ca_cert) (or the system's trusted CAs) and name the DC as
        given (O(domain_server), or the name DNS gave); V(ignore_hostname) - the chain only; V(ignore) - nothing
        (throwaway test DCs).
      - If not set, the environment variable E(WINIMAGE_CERT_VALIDATION) is used.
    type: str
    choices: [always, ignore, ignore_hostname]
    default: always
  validate_certs:
    description:
      - Deprecated, use O(cert_validation). V(false) means O(cert_validation=ignore).
    type: bool
  ca_cert:
    description:
      - PEM file of the CA certificate(s) that sign the DC's certificate. Default is the system's trusted CAs.
      - If not set, the environment variable E(WINIMAGE_CA_CERT) is used.
    type: path
    aliases: [ca_file]
  ccache:
    description:
      - Kerberos credential cache to bind with, for example V(FILE:/tmp/krb5cc_prov). Default E(KRB5CCNAME).
      - Needs the C(gssapi) and C(krb5) Python packages and a C(krb5.conf) that knows the realm.
    type: str
  keytab:
    description:
      - Keytab to get a Kerberos ticket from (with C(kinit -k)) for O(domain_username), into a temporary cache.
      - If not set, the environment variable E(WINIMAGE_KEYTAB) is used.
    type: path
notes:
  - Which DCs work - any writable DC a Windows machine can join. With a certificate - LDAPS or StartTLS, with
    tls-server-end-point channel binding, so DCs that enforce LDAP channel binding accept the bind. Without one
    (or with C(ldap server require strong auth = yes) / "LDAP server signing requirements") - SASL GSS-SPNEGO with
    signing and sealing on 389.
  - The result's C(connection) says which transport (V(ldaps), V(start_tls), V(sasl)) and authentication (V(kerberos),
    V(ntlm), V(simple)) were used.
'''
