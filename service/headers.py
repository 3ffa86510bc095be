"""Headers every response carries (SPEC §6).

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on everything:
  feed and invitation URLs are capabilities and must not leak through a ``Referer``.
- The staff pages (``service.web``) get a stricter one still: styles only from the app's own
  stylesheet (no inline styles), and forms may post only to this origin.
- HTML (``/docs``) gets a strict Content-Security-Policy: scripts and styles only from this
  origin (the page has no inline script; Swagger UI's assets are served locally), no
  plugins, no ``<base>``, no framing (``frame-ancestors 'none'``, and ``X-Frame-Options``
  for older browsers). Inline *styles* stay allowed: Swagger UI's components set them and
  they cannot run code.
- JSON (answers and problems) and CSV reports are ``Cache-Control: no-store`` unless the
  route chose a policy itself: it names patients, invitees and attendance, and must not linger in a
  browser or proxy cache. Feeds keep their ``private`` policy and their ETag; the API
  description and Swagger's static files, which hold no patient data, keep theirs.
- ``Circles-Views: degraded; views="costs"`` when a view the route read has a dead letter
  (SPEC §6): the answer is what that view has, which may miss the events it skipped.
"""

from __future__ import annotations

from flask import Flask, Response, request

from service.context import VIEWS_HEADER, views_header

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGES_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_JSON = ("application/json", "application/problem+json", "text/csv")  # CSV: cost reports
_NO_PATIENT_DATA = ("/openapi.json",)


def install(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        degraded = views_header()
        if degraded is not None:
            headers[VIEWS_HEADER] = degraded
        if response.mimetype == "text/html":
            from service.web import serves_page

            headers["Content-Security-Policy"] = (
                PAGES_CONTENT_SECURITY_POLICY if serves_page() else CONTENT_SECURITY_POLICY
            )
            headers["X-Frame-Options"] = "DENY"
        elif (
            response.mimetype in _JSON
            and "Cache-Control" not in headers
            and request.path not in _NO_PATIENT_DATA
        ):
            headers["Cache-Control"] = "no-store"
        return response
