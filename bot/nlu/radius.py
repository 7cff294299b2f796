"""Distances ("à moins de 5 km", "within 3 miles") and "near me" phrasings."""

from __future__ import annotations

import re

from bot.nlu.tokens import RE_FLAGS, rx

MILE_KM = 1.609344
NEAR_ME = rx(
    r"(?:pres|proche|autour|a cote|pas loin|pas trop loin|non loin) (?:de|d) ?(?:chez )?(?:moi|nous|ici)",
    r"chez moi",
    r"autour de moi",
    r"dans le coin",
    r"dans mon quartier",
    r"dans mon coin",
    r"dans ma zone",
    r"a proximite",
    r"pres d ici",
    r"near me",
    r"near here",
    r"close to me",
    r"close by",
    r"around me",
    r"around here",
    r"nearby",
    r"near by",
    r"to me",
    r"my area",
    r"my neighbourhood",
    r"my neighborhood",
)
NEAR_GENERIC = rx(
    r"a cote",
    r"pas loin",
    r"pa loin",  # creole and SMS
    r"po loin",
    r"pas trop loin",
    r"(?:le|la|les) plus proches?",
    r"proche",
    r"around",
    r"nearest",
    r"closest",
    r"near",
)
_RADIUS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(km|kms|kilometres?|kilometers?|kilometre|m|metres?|meters?|mi|miles?)\b",
    RE_FLAGS,
)


def read_radius(plain: str) -> float | None:
    for m in _RADIUS.finditer(plain):
        value = float(m.group(1).replace(",", "."))
        unit = m.group(2).lower()
        if unit.startswith("mi"):
            km = value * MILE_KM
        elif unit.startswith("k"):
            km = value
        else:
            km = value / 1000
        if 0 < km <= 500:
            return round(km, 3)
    return None
