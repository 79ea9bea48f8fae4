"""What the buildpack's downloads may reach: one policy for every transport.

- Only http(s) over the network (and ``file://`` for a local mirror, which
  the transports open themselves): urllib would otherwise follow a redirect
  to ``ftp://``.
- A redirect never leaves https: a mirror or index reached over TLS must
  not hand the build to a plain-http address anyone on the path can answer.
- Plain http is for this machine only, as pip has it: ``localhost``, an IP
  in 127.0.0.0/8 or ``::1``, not any name that starts with "127.".
- Credentials in a URL (``https://user:password@host/``) are sent as HTTP
  basic auth, and never to another host after a redirect.

Both transports (requests and urllib) call these functions; neither has
rules of its own.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse

from buildpack.core.redact import redact_url

NETWORK_SCHEMES = frozenset({"http", "https"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine by pip's rule: ``localhost``, an IP
    in 127.0.0.0/8, or ``::1``. A name is never resolved to decide."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_problem(from_url: str, to_url: str) -> str | None:
    """Why the redirect from ``from_url`` to ``to_url`` must not be followed
    (a message for the log), or None when it may."""
    target = urllib.parse.urlsplit(urllib.parse.urljoin(from_url, to_url))
    scheme = target.scheme.lower()
    shown = redact_url(target.geturl())
    if scheme not in NETWORK_SCHEMES:
        return f"the server redirected to {shown}, which is not an http(s) address"
    if urllib.parse.urlsplit(from_url).scheme.lower() == "https" and scheme != "https":
        return f"the server redirected from https to plain http ({shown}); refusing to follow"
    return None


def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its userinfo, and the basic-auth header value for it
    (None when the URL holds no credentials)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    header = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), header
