"""Store URLs: which backend a --store value names, and how to show it without a secret.

Redaction parses the URL (urllib's parser, the same split psycopg and httpx make) instead of
matching a pattern: a password holding `@`, `:` or `%`, a `?password=` parameter, and the
user-info of an http:// URL are all found. A driver's error text can quote part of the URL,
so it is redacted against the same URL's secrets; when it still holds a piece of one, the
text is withheld.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode

MASK = "***"
# query parameters that carry a secret in libpq's and common URL conventions
_SECRET_PARAMS = ("password", "sslpassword", "passfile", "token", "secret", "key")


def is_postgres_url(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://"))


def is_http_url(store: str) -> bool:
    return store.startswith(("http://", "https://"))


def _secret_param(name: str) -> bool:
    name = name.lower()
    return any(word in name for word in _SECRET_PARAMS)


def _parts(url: str) -> tuple[str, str | None, str, str]:
    """(scheme, user-info or None, host and path, query) of a URL. The user-info ends at the
    *last* `@` (a password may hold `@`, `/`, `?` or `#`, which a standard parser takes for
    the start of the path, query or fragment, leaving the password in plain sight)."""
    scheme, _, rest = url.partition("://")
    userinfo: str | None = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
    where, _, query = rest.partition("?")
    return scheme, userinfo, where, query


def _token_scheme(scheme: str) -> bool:
    # in an http(s) URL a lone user-info is as often a token as a name
    return scheme.lower() in ("http", "https")


def redact(url: str) -> str:
    """The URL as it may be shown: every password, secret parameter and (for http) lone
    user-info replaced by ***."""
    if "://" not in url:
        return url
    scheme, userinfo, where, query = _parts(url)
    shown = ""
    if userinfo is not None:
        user, sep, _password = userinfo.partition(":")
        lone = f"{MASK}@" if _token_scheme(scheme) else f"{user}@"
        shown = f"{user}:{MASK}@" if sep else lone
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_param(k) else v) for k, v in pairs],
                              safe="*", quote_via=quote)
    out = f"{scheme}://{shown}{where}" + (f"?{query}" if query else "")
    return out if out != url or userinfo is not None else url


def secrets_in(url: str) -> list[str]:
    """The secret values a URL holds, as written and decoded."""
    found: list[str] = []
    if "://" not in url:
        return found
    scheme, userinfo, _where, query = _parts(url)
    if userinfo is not None:
        user, sep, raw = userinfo.partition(":")
        if not sep and _token_scheme(scheme):
            raw = user
        if raw:
            found += [raw, unquote(raw)]
    for part in query.split("&"):
        name, _, raw = part.partition("=")
        if _secret_param(unquote(name)) and raw:
            found += [raw, unquote(raw)]
    return sorted({s for s in found if s}, key=len, reverse=True)


def redact_text(text: str, url: str) -> str:
    """A message (a driver's error, say) with the URL's secrets taken out; withheld whole if
    a piece of a secret is still in it (drivers quote the token they could not parse)."""
    text = text.replace(url, redact(url))
    secrets = secrets_in(url)
    for secret in secrets:
        text = text.replace(secret, MASK)
    for secret in secrets:
        window = min(len(secret), 4)
        if any(secret[i:i + window] in text for i in range(len(secret) - window + 1)):
            return "(the driver's message quoted the store URL's password; withheld)"
    return text
