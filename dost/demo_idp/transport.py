"""The relying party's calls to the demo identity provider mounted on the same server, answered in this process.

Over the network, a callback that waits for the provider's token endpoint on its own server holds one worker while
asking for another: with every worker in a callback, each waits for the timeout. So where the provider is mounted
here, its back channel (discovery, keys, token, signing) goes straight to its WSGI app: the same requests and
answers, through the same code on both sides, without a socket."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import EnvironBuilder, run_wsgi_app


class WSGIAdapter(BaseAdapter):
    """A requests transport that hands each request under `base_url` to a WSGI app mounted at that URL's path."""

    def __init__(self, app, base_url: str):
        super().__init__()
        self.app = app
        self.base_url = base_url.rstrip("/")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        prefix = urlsplit(self.base_url).path
        body = request.body.encode() if isinstance(request.body, str) else request.body
        environ = EnvironBuilder(
            path=parts.path[len(prefix):] or "/", base_url=self.base_url, query_string=parts.query,
            method=request.method, headers=list(request.headers.items()), data=body or b"",
        ).get_environ()
        app_iter, status, headers = run_wsgi_app(self.app, environ)
        try:
            content = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers.items())
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = content
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self):
        pass


def session_class(adapter: WSGIAdapter) -> type[OAuth2Session]:
    """Authlib's HTTP session class, with the mounted provider's URLs answered in-process."""

    class InProcessOAuth2Session(OAuth2Session):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.mount(adapter.base_url + "/", adapter)

    return InProcessOAuth2Session


def http_session(adapter: WSGIAdapter) -> requests.Session:
    """A plain requests session with the mounted provider's URLs answered in-process."""
    session = requests.Session()
    session.mount(adapter.base_url + "/", adapter)
    return session
