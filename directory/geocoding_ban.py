"""geopy's ``BANFrance`` with BAN's ``citycode`` filter, in its own module so that geopy
(which imports aiohttp and requests when installed: 15 MB and 0.15 s) is only imported
by the first geocoding, not by every ``communebot run`` (issue 15: peak RSS)."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from geopy.adapters import URLLibAdapter
from geopy.geocoders import BANFrance
from geopy.location import Location

__all__ = ["CommuneBAN", "make_ban"]


class CommuneBAN(BANFrance):
    """geopy's ``BANFrance`` whose search also sends BAN's ``citycode`` filter. Same
    request otherwise (``/search?q=…&limit=…``), same parsing."""

    def geocode_in(
        self,
        query: str,
        *,
        citycode: str | None = None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> list[Location] | None:
        params: dict[str, Any] = {"q": query}
        if limit is not None:
            params["limit"] = limit
        if citycode:
            params["citycode"] = citycode
        url = "?".join((self.geocode_api, urlencode(params)))
        callback = partial(self._parse_json, exactly_one=False)
        result: list[Location] | None = self._call_geocoder(url, callback, timeout=timeout)
        return result


def make_ban(*, domain: str, scheme: str, timeout_s: float, user_agent: str) -> CommuneBAN:
    # urllib, not requests: geopy's requests adapter retries, which would multiply the
    # wait a timeout is meant to bound
    return CommuneBAN(domain=domain, scheme=scheme, timeout=timeout_s, user_agent=user_agent,
                      adapter_factory=URLLibAdapter)
