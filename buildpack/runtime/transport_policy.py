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

Both transports (requests and urllib) use what is here: ``requests_session``
and ``RedirectHandler`` with ``urllib_request``; neither has rules of its own.
A refused redirect raises ``RedirectRefused``.
"""

from __future__ import annotations

import base64
import email.message
import ipaddress
import urllib.parse
import urllib.request
from typing import IO, TYPE_CHECKING

from buildpack.core.redact import redact_url

if TYPE_CHECKING:
    import requests

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


class RedirectRefused(Exception):
    """A redirect ``redirect_problem`` forbids; ``problem`` says why."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


def requests_session() -> requests.Session:
    """A requests session that follows only the redirects allowed here.

    requests sends a URL's credentials as basic auth itself, and drops them
    on a redirect to another host.
    """
    import requests

    class PolicySession(requests.Session):
        def get_redirect_target(self, resp: requests.Response) -> str | None:
            target = super().get_redirect_target(resp)
            if target is not None:
                problem = redirect_problem(resp.url, target)
                if problem is not None:
                    resp.close()
                    raise RedirectRefused(resp.url, problem)
            return target

    return PolicySession()


class RedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, only where ``redirect_problem`` allows."""

    def http_error_302(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: email.message.Message,
    ) -> IO[bytes] | None:
        target = headers.get("location") or headers.get("uri")
        if target:
            problem = redirect_problem(req.full_url, target)
            if problem is not None:
                fp.close()
                raise RedirectRefused(req.full_url, problem)
        return super().http_error_302(req, fp, code, msg, headers)  # type: ignore[arg-type]

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def urllib_request(url: str) -> urllib.request.Request:
    """The request for ``url``, its credentials (if any) as basic auth.

    urllib does not take credentials from a URL (it reads "user:password@host"
    as a host with a port that is not a number). Unredirected: the header
    is not sent on to where a redirect points.
    """
    bare, auth = split_credentials(url)
    request = urllib.request.Request(bare)
    if auth is not None:
        request.add_unredirected_header("Authorization", auth)
    return request
