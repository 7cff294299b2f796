"""Outgoing -> Matrix event contents. Pure functions: no client, no I/O.

Every text (user input echoed back, directory data) is HTML-escaped; the markup uses only
a small subset of the spec's safe tags (b, i, a, ul, ol, li, br, p, code), so any client
shows it. Bots send ``m.notice`` so other bots never answer them.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlsplit

from bot.i18n import translator
from bot.messages import (
    Bold,
    Inline,
    Italic,
    LineBreak,
    Link,
    ListItems,
    MapPin,
    Outgoing,
    Span,
    Text,
    plain_text,
)

#: URL schemes a link may carry; anything else is shown as text, never as a link
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "geo", "matrix"})


def safe_url(url: str) -> bool:
    """Only absolute URLs with a harmless scheme become ``<a href>`` (no ``javascript:``)."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_SCHEMES


def _inline_html(span: Inline) -> str:
    if isinstance(span, LineBreak):
        return "<br>"
    if isinstance(span, Bold):
        return f"<b>{escape(span.text)}</b>"
    if isinstance(span, Italic):
        return f"<i>{escape(span.text)}</i>"
    if isinstance(span, Link):
        if not safe_url(span.url):
            return escape(span.text if span.text == span.url else f"{span.text} ({span.url})")
        return f'<a href="{escape(span.url.strip(), quote=True)}">{escape(span.text)}</a>'
    return escape(span.text).replace("\n", "<br>")


def html(spans: tuple[Span, ...] | list[Span]) -> str:
    """Render spans as a Matrix ``formatted_body`` (``org.matrix.custom.html``)."""
    out: list[str] = []
    for span in spans:
        if isinstance(span, ListItems):
            tag = "ol" if span.numbered else "ul"
            items = "".join(
                "<li>" + "".join(_inline_html(part) for part in item) + "</li>"
                for item in span.items
            )
            out.append(f"<{tag}>{items}</{tag}>")
        else:
            out.append(_inline_html(span))
    return "".join(out)


def with_choices(out: Outgoing) -> tuple[Span, ...]:
    """Matrix has no buttons: choices become a numbered list, answered by number or text;
    a location request becomes a hint on how to share one."""
    spans = list(out.spans)
    t = translator(out.lang)
    if out.choices:
        spans.append(ListItems(tuple((Text(c.label),) for c in out.choices), numbered=True))
        spans.append(Italic(t("matrix.choices_hint")))
    if out.request_location:
        if spans and not isinstance(spans[-1], ListItems):
            spans.append(LineBreak())
        spans.append(Italic(t("matrix.location_hint")))
    return tuple(spans)


def notice_content(spans: tuple[Span, ...]) -> dict[str, Any]:
    """An ``m.notice`` with a plain ``body`` and an HTML ``formatted_body``."""
    return {
        "msgtype": "m.notice",
        "body": plain_text(spans),
        "format": "org.matrix.custom.html",
        "formatted_body": html(spans),
    }


def geo_uri(lat: float, lon: float) -> str:
    return f"geo:{lat:.6f},{lon:.6f}"


def location_content(pin: MapPin) -> dict[str, Any]:
    """A map pin as an ``m.location`` event (plus the extensible-events location key)."""
    label = pin.name if not pin.address else f"{pin.name} — {pin.address}"
    uri = geo_uri(pin.lat, pin.lon)
    return {
        "msgtype": "m.location",
        "body": f"{label} ({uri})",
        "geo_uri": uri,
        "org.matrix.msc3488.location": {"uri": uri, "description": label},
        "org.matrix.msc1767.text": label,
    }


def reply_to(content: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Mark a content as a reply (rich reply, without the deprecated fallback quote)."""
    return {**content, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


def replacement(content: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An edit of an earlier event (pagination: the same message on screen, new content)."""
    new_content = {k: v for k, v in content.items() if k != "m.relates_to"}
    return {
        **new_content,
        "body": "* " + str(content.get("body", "")),
        "m.new_content": new_content,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def contents(out: Outgoing) -> list[dict[str, Any]]:
    """The events one Outgoing becomes: a notice (if any text) then a location (if a pin)."""
    result: list[dict[str, Any]] = []
    spans = with_choices(out)
    if spans:
        result.append(notice_content(spans))
    if out.pin is not None:
        result.append(location_content(out.pin))
    return result
