"""Rendering is pure: spans to Telegram HTML, split under the limit, keyboards."""

from __future__ import annotations

import pytest
from emulator import ApiError, check_markup, check_text, parse_html

from adapters.telegram.render import (
    callback_data_for,
    keyboard_rows,
    render_chunks,
    utf16_len,
)
from bot.messages import Bold, Choice, Italic, LineBreak, Link, ListItems, Text


def test_every_piece_of_text_is_escaped() -> None:
    [chunk] = render_chunks((Text("1 < 2 & 3 > 0 "), Bold("<i>x</i>"), Italic("a&b")))
    assert chunk.html == "1 &lt; 2 &amp; 3 &gt; 0 <b>&lt;i&gt;x&lt;/i&gt;</b><i>a&amp;b</i>"
    assert chunk.plain == "1 < 2 & 3 > 0 <i>x</i>a&b"
    assert parse_html(chunk.html) == chunk.plain


def test_lists_and_line_breaks() -> None:
    items = ((Bold("Crèche"), Text(" — 1 km")), (Text("Garage"),))
    [chunk] = render_chunks((Text("Résultats :"), ListItems(items, numbered=True),
                             Text("fin"), LineBreak(), Text("après")))
    assert chunk.html == "Résultats :\n1. <b>Crèche</b> — 1 km\n2. Garage\nfin\naprès"


def test_link_hrefs_are_quoted_and_only_safe_schemes_become_links() -> None:
    [chunk] = render_chunks((Link("x", 'https://a.b/?q="1"&r=2'), Text(" "),
                             Link("mail", "mailto:a@b.c")))
    assert chunk.html == ('<a href="https://a.b/?q=&quot;1&quot;&amp;r=2">x</a> '
                          "mail (mailto:a@b.c)")
    parse_html(chunk.html)


def test_long_text_splits_at_line_ends_within_the_limit() -> None:
    lines = [Text(f"ligne {i} <&>\n") for i in range(1000)]
    chunks = render_chunks(lines, limit=500)
    assert len(chunks) > 10
    assert "".join(c.plain + "\n" for c in chunks) == "".join(t.text for t in lines)
    for chunk in chunks:
        visible = parse_html(chunk.html)
        assert utf16_len(visible) <= 500
        assert visible == chunk.plain
        assert chunk.plain.startswith("ligne")


def test_a_huge_bold_paragraph_is_cut_between_words_with_tags_closed() -> None:
    words = " ".join(f"mot{i}" for i in range(3000))
    chunks = render_chunks((Text("début "), Bold(words), Text(" fin")))
    assert len(chunks) >= 4
    for chunk in chunks:
        visible = parse_html(chunk.html)  # balanced tags in every chunk
        assert utf16_len(visible) <= 4096
    joined = " ".join(c.plain for c in chunks).split()
    assert joined == ["début", *words.split(), "fin"]


def test_a_word_longer_than_a_message_is_cut_by_characters_without_breaking_emoji() -> None:
    chunks = render_chunks((Text("😀" * 3000),))
    assert [utf16_len(c.plain) for c in chunks] == [4096, 1904]
    assert "".join(c.plain for c in chunks) == "😀" * 3000


def test_blank_output_makes_no_message() -> None:
    assert render_chunks((Text("  \n "), LineBreak())) == []


def test_callback_data_fits_64_bytes_and_long_ids_get_a_stable_digest() -> None:
    assert callback_data_for("ab12.3") == "ab12.3"
    long_id = "é" * 40  # 80 bytes
    data = callback_data_for(long_id)
    assert data.startswith("~") and len(data.encode()) <= 64
    assert data == callback_data_for(long_id)
    assert callback_data_for("~x") != "~x"  # never confused with a digest


def test_keyboard_rows_group_short_labels_and_validate() -> None:
    choices = [Choice("a", "Oui"), Choice("b", "Non"), Choice("c", "Une très longue étiquette de bouton"),
               Choice("d", " x " * 40)]
    rows = keyboard_rows(choices)
    assert [[label for label, _ in row] for row in rows][:2] == [["Oui", "Non"],
                                                               ["Une très longue étiquette de bouton"]]
    assert len(rows[2][0][0]) <= 48
    markup = {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                  for row in rows]}
    check_markup(markup, "private")


@pytest.mark.parametrize("html, reason", [
    ("<b>x", "Can't find end tag"),
    ("<b>x</i>", "Unmatched end tag"),
    ("a < b", "Unsupported start tag"),
    ("a & b", "Character entity expected"),
    ("<div>x</div>", "Unsupported start tag"),
    ("&nbsp;", "Unsupported HTML entity"),
    ('<a href="x" onclick="y">z</a>', "Unsupported attribute"),
])
def test_the_emulator_refuses_what_telegram_refuses(html: str, reason: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_text(html, "HTML")
    assert caught.value.code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities")
    assert reason in caught.value.description


def test_the_emulator_checks_lengths_and_keyboards() -> None:
    with pytest.raises(ApiError, match="message is too long"):
        check_text("x" * 4097, None)
    check_text("<b>" + "x" * 4096 + "</b>", "HTML")  # tags do not count
    with pytest.raises(ApiError, match="message text is empty"):
        check_text("<b> </b>", "HTML")
    with pytest.raises(ApiError, match="BUTTON_DATA_INVALID"):
        check_markup({"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}, "private")
    with pytest.raises(ApiError, match="Array of Arrays"):
        check_markup({"inline_keyboard": [{"text": "a", "callback_data": "x"}]}, "private")
    with pytest.raises(ApiError, match="PRIVATE_ONLY"):
        check_markup({"keyboard": [[{"text": "📍", "request_location": True}]]}, "group")


def test_keyboards_stay_within_telegrams_hundred_buttons() -> None:
    rows = keyboard_rows([Choice(str(i), str(i)) for i in range(150)])
    assert sum(len(row) for row in rows) == 100
    assert max(len(row) for row in rows) <= 3
