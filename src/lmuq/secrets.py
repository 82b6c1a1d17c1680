"""One secrets policy for everything lmuq keeps or shows: stores, reports, logs and errors.

* :class:`Secret` holds a credential; its ``repr``/``str`` never show it and it refuses to
  be pickled.
* :func:`is_secret_key` says whether a settings key names a credential; :func:`redact_settings`
  masks such entries (and values that look like credentials whatever their key) in nested
  settings.
* :func:`redact_text` removes given secret strings (and anything that looks like a bearer
  token or a well-known key format) from free text such as provider error messages.
* :func:`redact_url` masks the ``user:password@`` part of a URL; :func:`url_credentials`
  lists the secrets that part holds, in each form a server may echo them back.

Every mask is :data:`MASK`.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "Secret",
    "is_secret_key",
    "looks_like_secret",
    "redact_settings",
    "redact_text",
    "redact_url",
    "url_credentials",
    "url_without_userinfo",
]

#: What a redacted value shows instead.
MASK = "***"

# Words that make a settings key a secret (matched against the key's word parts, so
# "max_new_tokens" and "tokenizer" stay visible while "hf_token" or "OPENAI_API_KEY" do not).
_SECRET_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "secrets",
        "token",
    }
)
# Adjacent word pairs that make a key a secret.
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("auth", "token")}
)
# Keys written as one word: "apikey", "accessKey" are split by camelCase, "privatekey" is not.
_SECRET_COMPACT = ("apikey", "accesskey", "privatekey", "secretkey", "authtoken")
# Values that look like credentials whatever their key is called.
_SECRET_VALUE = re.compile(
    r"(?:\bbearer\s+\S+|\b(?:sk|hf|ghp|gho|ghs|xox[abp]|pk|rk)[-_]"
    r"[A-Za-z0-9_\-]{12,})",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@]+@")


class Secret:
    """A credential whose ``repr``/``str`` show :data:`MASK` (or ``None``), never the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def reveal(self) -> str | None:
        """The value itself, for the one place that sends it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"'{MASK}'" if self._value else "None"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key is not pickled; pass api_key again where it is needed")

    def __deepcopy__(self, memo: dict) -> Secret:
        return Secret(self._value)


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(key))
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_key(key: str) -> bool:
    """Whether a settings key looks like it holds a credential.

    The key is split into words (at ``_``, ``-``, ``.``, spaces and camelCase); it is a
    secret if a word is one of ``token``, ``secret``, ``password``, ``passwd``, ``pwd``,
    ``passphrase``, ``authorization``, ``auth``, ``apikey``, ``credential(s)``, ``bearer``,
    ``cookie``; if two adjacent words are ``api key``, ``private key``, ``access key``,
    ``secret key`` or ``auth token``; or if its letters run together contain ``apikey``,
    ``accesskey``, ``privatekey``, ``secretkey`` or ``authtoken``. Counts such as
    ``max_new_tokens`` and names such as ``tokenizer`` are not secrets.
    """
    words = _key_words(key)
    if any(w in _SECRET_WORDS for w in words):
        return True
    if any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words)):
        return True
    compact = "".join(words)
    return any(c in compact for c in _SECRET_COMPACT)


def looks_like_secret(value: str) -> bool:
    """Whether a string contains something shaped like a credential (``Bearer …``,
    ``sk-…``, ``hf_…``, ``ghp_…``, ``xoxb-…``)."""
    return bool(_SECRET_VALUE.search(value))


def redact_settings(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking entry replaced by :data:`MASK`.

    Mappings are walked recursively (keys judged by :func:`is_secret_key`), as are lists
    and tuples; a string that looks like a credential is masked wherever it appears, and a
    URL loses its ``user:password@`` part. Other values are returned as they are.
    """
    if isinstance(value, Mapping):
        return {
            str(k): MASK if is_secret_key(str(k)) else redact_settings(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_settings(v) for v in value]
    if isinstance(value, str):
        if looks_like_secret(value):
            return MASK
        return redact_url(value)
    return value


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it (``user:password@``) replaced by
    ``***@``: ``http://bob:pw@host/v1`` -> ``http://***@host/v1``."""
    if "@" not in text or "://" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


def url_without_userinfo(url: str) -> str:
    """The URL with no userinfo at all (what to show or key on): ``http://host/v1``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def url_credentials(url: str) -> tuple[str, ...]:
    """The secrets in the userinfo of ``url``, in each form a server may echo them: the
    password as written and percent-decoded, ``user:password``, and its base64 (the
    ``Basic`` credentials an HTTP client sends for it). A userinfo without a password is a
    token: then the user name stands for the password. Empty for a URL without userinfo
    (or one that cannot be parsed).

    Pass them to :func:`redact_text` to scrub an error message about that URL.
    """
    if "@" not in url:
        return ()
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return ()
    if not user and not password:
        return ()
    found: list[str] = []
    for decode in (str, unquote):
        name, word = decode(user or ""), decode(password or "")
        pair = f"{name}:{word}"
        found += [word or name, pair, base64.b64encode(pair.encode()).decode()]
    return tuple(dict.fromkeys(found))


def redact_text(text: str, secrets: Iterable[str | Secret | None] = ()) -> str:
    """``text`` with each given secret (at least 4 characters) replaced by :data:`MASK`,
    credential-shaped substrings masked, and URL userinfo removed.

    Use it on every text that comes from a provider or an exception before keeping it.
    """
    out = text
    values = (s.reveal() if isinstance(s, Secret) else s for s in secrets)
    # Longest first: a secret that contains another is masked whole.
    for value in sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True):
        out = out.replace(value, MASK)
    out = _SECRET_VALUE.sub(MASK, out)
    return redact_url(out)
