"""Matching key for Vietnamese place names typed by people and by other systems.

Three spellings of one name are common: NFC vs NFD (macOS and some databases decompose), letter
case, and the old vs new tone placement ("Hoà" vs "Hòa", "Thuỷ" vs "Thủy"), which both appear in
official documents. Diacritics are never dropped: Xã Cẩm Giàng and Xã Cẩm Giang are neighbouring,
different communes.
"""

from __future__ import annotations

import unicodedata

# The five Vietnamese tone marks as combining characters: grave, acute, tilde, hook, dot below.
# Vowel-quality marks (circumflex, breve, horn) stay on their letter; only tones move between
# spelling conventions.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = "".join(sorted(ch for ch in decomposed if ch in _TONES))
    base = "".join(ch for ch in decomposed if ch not in _TONES)
    # The tone goes after the word: where the writer placed it inside the syllable is lost,
    # which is exactly the difference between the two conventions.
    return unicodedata.normalize("NFC", base) + tones


def name_key(text: str) -> str:
    """Key equal for every spelling of the same name; unequal when the letters or tones differ."""
    return " ".join(_fold_word(word) for word in text.casefold().split())
