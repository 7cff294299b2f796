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
    Document,
    Inline,
    Italic,
    LineBreak,
    Link,
    ListItems,
    MapPin,
    Outgoing,
    Span,
    StartLink,
    Text,
    listed_choices,
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
    if isinstance(span, StartLink):  # Matrix has no deep links: the command to type
        return escape(f"{span.text} (!start {span.payload})")
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


def choice_block(out: Outgoing) -> tuple[str, str]:
    """The choices not already numbered in the text, plus the hints, as (plain, html).
    Matrix has no buttons: choices are answered by number or text."""
    t = translator(out.lang)
    start = listed_choices(out)
    rest = out.choices[start:]
    plain: list[str] = []
    rich: list[str] = []
    if rest:
        plain += [f"{number}. {c.label}" for number, c in enumerate(rest, start=start + 1)]
        attr = f' start="{start + 1}"' if start else ""
        rich.append(f"<ol{attr}>" + "".join(f"<li>{escape(c.label)}</li>" for c in rest) + "</ol>")
    if out.choices:
        plain.append(t("matrix.choices_hint"))
        rich.append(f"<i>{escape(t('matrix.choices_hint'))}</i>")
    if out.request_location:
        plain.append(t("matrix.location_hint"))
        rich.append(("<br>" if rich else "") + f"<i>{escape(t('matrix.location_hint'))}</i>")
    return "\n".join(plain), "".join(rich)


def notice_content(spans: tuple[Span, ...], extra: tuple[str, str] = ("", "")) -> dict[str, Any]:
    """An ``m.notice`` with a plain ``body`` and an HTML ``formatted_body``."""
    typed = [Text(f"{s.text} (!start {s.payload})") if isinstance(s, StartLink) else s for s in spans]
    body, formatted = plain_text(typed).rstrip("\n"), html(spans)
    if extra[0]:
        body = f"{body}\n{extra[0]}" if body else extra[0]
        separator = "" if not formatted or formatted.endswith(("</ol>", "</ul>")) else "<br>"
        formatted = f"{formatted}{separator}{extra[1]}"
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
        # intentional mentions, none by default: a directory name that happens to be
        # someone's display name must not ping them
        "m.mentions": {},
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


def file_content(
    document: Document, url: str | None = None, encrypted_file: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A document as an ``m.file`` event, once its bytes are uploaded: ``url`` (the mxc://
    URI) in a clear room, ``encrypted_file`` (an EncryptedFile: url, key, iv, hashes, v)
    in an encrypted one, where the homeserver only ever holds the ciphertext."""
    content: dict[str, Any] = {
        "msgtype": "m.file",
        "body": document.filename,
        "filename": document.filename,
        "info": {"mimetype": document.mime, "size": len(document.data)},
    }
    if encrypted_file is not None:
        content["file"] = encrypted_file
    else:
        content["url"] = url
    return content


def reply_to(
    content: dict[str, Any],
    event_id: str,
    sender: str | None = None,
    thread: str | None = None,
    falling_back: bool = False,
) -> dict[str, Any]:
    """Mark a content as a reply (rich reply, without the deprecated fallback quote) that
    mentions its addressee, inside the thread the question came from if any
    (``falling_back``: a thread message that is not itself a reply)."""
    relates: dict[str, Any] = {"m.in_reply_to": {"event_id": event_id}}
    if thread:
        relates = {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": falling_back,
            **relates,
        }
    mentions = {"user_ids": [sender]} if sender else content.get("m.mentions", {})
    return {**content, "m.relates_to": relates, "m.mentions": mentions}


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
    """The events one Outgoing becomes: a notice (if any text) then a location (if a pin).
    A document comes after them, as :func:`file_content` once uploaded (that needs I/O)."""
    result: list[dict[str, Any]] = []
    extra = choice_block(out)
    if out.spans or extra[0]:
        result.append(notice_content(out.spans, extra))
    if out.pin is not None:
        result.append(location_content(out.pin))
    return result
