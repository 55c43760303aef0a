"""ICAO 9303-3 codes for issuing states, organisations and nationalities.

The code list is ISO 3166-1 alpha-3 (from pycountry's ISO data, kept current by its
package) with the exceptions ICAO 9303 Part 3 lists: ``D`` for Germany, the British
nationality codes, the United Nations and other issuing organisations, and the codes for
stateless persons and refugees. ``UTO`` (Utopia) is ICAO's code for specimen documents:
it is not a state, so a border accepts it only when it is the deployment's own code.
"""

from __future__ import annotations

from functools import cache

# Doc 9303-3, section 5: codes that are not ISO 3166-1 alpha-3 country codes.
ICAO_EXCEPTIONS = {
    "D": "Germany",
    "EUE": "European Union",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    "RKS": "Kosovo",
    "UNA": "Specialized agency of the United Nations",
    "UNK": "Resident of Kosovo (UNMIK)",
    "UNO": "United Nations Organization",
    "XBA": "African Development Bank",
    "XCC": "Caribbean Community",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa",
    "XDC": "Southern African Development Community",
    "XEC": "Economic Community of West African States",
    "XES": "Organisation of Eastern Caribbean States",
    "XIM": "African Export-Import Bank",
    "XMP": "Parliamentary Assembly of the Mediterranean",
    "XOM": "Sovereign Military Order of Malta",
    "XPO": "International Criminal Police Organization",
    "XXA": "Stateless person",
    "XXB": "Refugee (1951 Convention)",
    "XXC": "Refugee (other)",
    "XXX": "Unspecified nationality",
}
SPECIMEN = "UTO"
# Codes that name a nationality but never issue documents themselves.
NOT_ISSUERS = {"XXA", "XXB", "XXC", "XXX", "GBD", "GBN", "GBO", "GBP", "GBS"}


@cache
def _iso_codes() -> dict[str, str]:
    import pycountry

    return {c.alpha_3: c.name for c in pycountry.countries}


def code_name(code: str) -> str | None:
    """The state or organisation a code stands for, or None when ICAO has no such code."""
    code = (code or "").replace("<", "").upper()
    return ICAO_EXCEPTIONS.get(code) or _iso_codes().get(code)


def check_code(code: str, role: str, *, own_state: str) -> tuple[bool, str]:
    """(ok, reason) for an MRZ issuing-state (``role`` = "issuer") or nationality code."""
    bare = (code or "").replace("<", "").upper()
    if bare == own_state.replace("<", ""):
        return True, f"{bare} (this issuer)"
    if bare == SPECIMEN:
        return False, f"{bare} is ICAO's specimen code (Utopia), not a state"
    name = code_name(bare)
    if name is None:
        return False, f"{bare or 'empty'} is not an ICAO 9303 code"
    if role == "issuer" and bare in NOT_ISSUERS:
        return False, f"{bare} ({name}) is a nationality code, not an issuing authority"
    return True, f"{bare}: {name}"
