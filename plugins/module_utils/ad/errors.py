# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the AD client: ``ADError`` and the text made from what a DC answered.

``ADError.kind`` names the cause so callers can act on it without parsing the
message; ``result_error`` maps an LDAP result code to a kind, ``lost`` says
whether a request the DC never answered may still have been carried out.
No message ever holds a password (LDAP diagnostics carry none, and ``clean``
bounds what is quoted).
"""

from __future__ import annotations

# LDAP result codes turned into named errors
_RESULT_KINDS = {
    8: 'tls_required', 13: 'tls_required', 19: 'constraint', 32: 'not_found', 34: 'invalid_dn', 49: 'bad_credentials',
    50: 'access_denied', 53: 'unwilling', 64: 'naming_violation', 68: 'exists',
}


class ADError(Exception):
    """An AD operation failed. ``kind`` names the cause for callers:

    unreachable, tls, bad_credentials, access_denied, not_found, exists,
    constraint, unwilling, kerberos, discovery, missing_library, protocol, error.
    The message never contains a password.
    """

    def __init__(self, message, kind='error', code=None):
        super(ADError, self).__init__(message)
        self.kind = kind
        self.code = code


def result_error(code, description, message, what):
    """ADError for an LDAP result code other than success."""
    kind = _RESULT_KINDS.get(code, 'error')
    text = '%s failed: %s (%s)' % (what, description, clean(message))
    if kind == 'access_denied':
        text = '%s failed: access denied; the account lacks the right (%s)' % (what, clean(message))
    return ADError(text, kind, code)


def lost(reply, what):
    """ADError for a request the DC never answered (the connection failed)."""
    if reply.sent:
        return ADError('%s: the connection to the DC failed before it answered (%s); the change may or may not '
                       'have been made' % (what, clean(reply.error)), 'unreachable')
    return ADError('%s: not attempted, the connection to the DC failed (%s)' % (what, clean(reply.error)),
                   'not_attempted')


def clean(text):
    """Single-line, bounded error text (LDAP diagnostics never carry the password)."""
    if not text:
        return ''
    return ' '.join(str(text).split())[:300]
