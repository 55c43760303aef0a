"""Transliterate a name into the MRZ character set (A-Z and the filler ``<``).

Rules, all from ICAO Doc 9303 Part 3 (8th edition 2021, unchanged from the 7th, 2015):

* **Latin** (Section 6, Table A "Transliteration of multinational Latin-based characters").
  Letters with diacritics lose them (É -> E, Ł -> L, Ş -> S); the table's multi-letter rows
  are applied: Æ -> AE, Ø -> OE, Œ -> OE, Þ -> TH, Ĳ -> IJ, ß/ẞ -> SS. Where the table gives
  alternatives the first one is the default and the others can be chosen per character with
  ``options`` (an issuing State decides): Ä -> AE|A, Å -> AA|A, Ñ -> N|NXX, Ö -> OE|O,
  Ü -> UE|UXX|U. Lower case is upper-cased first. A Latin letter absent from Table A whose
  Unicode decomposition is an A-Z letter plus combining marks (Romanian Ș/Ț with comma below,
  Vietnamese letters...) is reduced to that letter, which is what Table A does for every
  accented letter it lists. This fallback is our extension, not a Table A row.
* **Cyrillic** (Table B), the default column only: the language-specific exceptions in the
  table's notes (Ukrainian, Serbian, Macedonian, Belarusian, Bulgarian) are *not* applied,
  because the language cannot be told from the letters. The soft sign Ь, which Table B does
  not list, is dropped (common practice for Russian names). Other letters the table does not
  list are rejected.
* **Arabic script** (Table C "Transliteration of Arabic script", with Appendix B). This is
  ICAO's reversible letter-for-letter scheme, *not* a phonetic transcription. Each letter maps
  to a fixed Latin sequence, and the "X" sequences mark letters with no plain Latin equivalent:
  ح -> XH, خ -> XKH, ش -> XSH, ث -> XTH, ص -> XSS... Short vowels (harakat), sukun, tanwin,
  superscript alef and tatweel are not encoded, so no vowels are added: محمد -> MXHMD (ICAO's
  own example: ابو بكر محمد بن زكريا الرازي -> ABW<BKR<MXHMD<BN<ZKRYA<ALRAZY). Shadda repeats
  the preceding letter's sequence, without repeating an X escape: ICAO's examples are
  عبّاس -> EBBAS and فضّة -> FXDZDZXAH. Teh marbuta ة is XAH at the end of a
  name component and XTA elsewhere (فاطمة -> FAXTTMXAH). The Persian, Urdu and Pashto letters of
  Table C are included (پ -> P, چ -> XC, گ -> XGG, ی -> XYA...). The four letters the table
  marks "not encoded" (ڜ ڢ ڧ ڨ) are rejected, because dropping a consonant would change the
  name. The phonetic form (MOHAMMED) that many States print instead is a national choice a
  table cannot make; pass it as Latin text if that is the policy.
* **Separators and punctuation** (Part 3, 4.6): spaces, hyphens (any dash), commas (including
  the Arabic comma) and ``<`` separate name components and become one ``<``; apostrophes are
  omitted and join the parts (O'CONNOR -> OCONNOR); other punctuation is omitted. Runs of
  separators collapse to one ``<`` and leading or trailing separators are dropped.
* Digits (Latin or Arabic-Indic), symbols, control characters and letters of any other script
  are rejected with :class:`~hawiya.errors.InvalidInput` naming each offending character and
  its position: numerals are not permitted in MRZ names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from hawiya.errors import InvalidInput

MAX_NAME_CHARS = 512

_AZ = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Table A, single-valued rows whose output is not simply the unaccented base letter, plus
# every row (so that the table, not the Unicode decomposition, is the authority).
LATIN: dict[str, str] = {
    "À": "A", "Á": "A", "Â": "A", "Ã": "A", "Æ": "AE", "Ç": "C",
    "È": "E", "É": "E", "Ê": "E", "Ë": "E", "Ì": "I", "Í": "I", "Î": "I", "Ï": "I",
    "Ð": "D", "Ò": "O", "Ó": "O", "Ô": "O", "Õ": "O", "Ø": "OE",
    "Ù": "U", "Ú": "U", "Û": "U", "Ý": "Y", "Þ": "TH",
    "Ā": "A", "Ă": "A", "Ą": "A", "Ć": "C", "Ĉ": "C", "Ċ": "C", "Č": "C", "Ď": "D", "Đ": "D",
    "Ē": "E", "Ĕ": "E", "Ė": "E", "Ę": "E", "Ě": "E", "Ĝ": "G", "Ğ": "G", "Ġ": "G", "Ģ": "G",
    "Ĥ": "H", "Ħ": "H", "Ĩ": "I", "Ī": "I", "Ĭ": "I", "Į": "I", "İ": "I", "Ĳ": "IJ",
    "Ĵ": "J", "Ķ": "K", "Ĺ": "L", "Ļ": "L", "Ľ": "L", "Ŀ": "L", "Ł": "L",
    "Ń": "N", "Ņ": "N", "Ň": "N", "Ŋ": "N", "Ō": "O", "Ŏ": "O", "Ő": "O", "Œ": "OE",
    "Ŕ": "R", "Ŗ": "R", "Ř": "R", "Ś": "S", "Ŝ": "S", "Ş": "S", "Š": "S",
    "Ţ": "T", "Ť": "T", "Ŧ": "T", "Ũ": "U", "Ū": "U", "Ŭ": "U", "Ů": "U", "Ű": "U", "Ų": "U",
    "Ŵ": "W", "Ŷ": "Y", "Ÿ": "Y", "Ź": "Z", "Ż": "Z", "Ž": "Z", "ẞ": "SS",
}

# Table A rows with alternatives; the first is the default.
LATIN_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "Ä": ("AE", "A"),
    "Å": ("AA", "A"),
    "Ñ": ("N", "NXX"),
    "Ö": ("OE", "O"),
    "Ü": ("UE", "UXX", "U"),
}

# Table B, default column (U+0402 .. U+04BA as listed by ICAO).
CYRILLIC: dict[str, str] = {
    "Ё": "E", "Ђ": "D", "Є": "IE", "Ѕ": "DZ", "І": "I", "Ї": "I", "Ј": "J", "Љ": "LJ",
    "Њ": "NJ", "Ќ": "K", "Ў": "U", "Џ": "DZ", "А": "A", "Б": "B", "В": "V", "Г": "G",
    "Д": "D", "Е": "E", "Ж": "ZH", "З": "Z", "И": "I", "Й": "I", "К": "K", "Л": "L",
    "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U",
    "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ъ": "IE", "Ы": "Y",
    "Ь": "", "Э": "E", "Ю": "IU", "Я": "IA", "Ѫ": "U", "Ѵ": "Y", "Ґ": "G", "Ғ": "G", "Һ": "C",
}

_TEH_MARBUTA = "\u0629"
_SHADDA = "\u0651"

# Table C (letters). Teh marbuta and shadda are handled in code.
ARABIC: dict[str, str] = {
    "\u0621": "XE",   # hamza
    "\u0622": "XAA",  # alef with madda above
    "\u0623": "XAE",  # alef with hamza above
    "\u0624": "U",    # waw with hamza above
    "\u0625": "I",    # alef with hamza below
    "\u0626": "XI",   # yeh with hamza above
    "\u0627": "A",    # alef
    "\u0628": "B",    # beh
    "\u062a": "T",    # teh
    "\u062b": "XTH",  # theh
    "\u062c": "J",    # jeem
    "\u062d": "XH",   # hah
    "\u062e": "XKH",  # khah
    "\u062f": "D",    # dal
    "\u0630": "XDH",  # thal
    "\u0631": "R",    # reh
    "\u0632": "Z",    # zain
    "\u0633": "S",    # seen
    "\u0634": "XSH",  # sheen
    "\u0635": "XSS",  # sad
    "\u0636": "XDZ",  # dad
    "\u0637": "XTT",  # tah
    "\u0638": "XZZ",  # zah
    "\u0639": "E",    # ain
    "\u063a": "G",    # ghain
    "\u0641": "F",    # feh
    "\u0642": "Q",    # qaf
    "\u0643": "K",    # kaf
    "\u0644": "L",    # lam
    "\u0645": "M",    # meem
    "\u0646": "N",    # noon
    "\u0647": "H",    # heh
    "\u0648": "W",    # waw
    "\u0649": "XAY",  # alef maksura
    "\u064a": "Y",    # yeh
    "\u0671": "XXA",  # alef wasla
    "\u0679": "XXT",  # tteh
    "\u067c": "XRT",  # teh with ring
    "\u067e": "P",    # peh
    "\u0681": "XKE",  # hah with hamza above
    "\u0685": "XXH",  # hah with 3 dots above
    "\u0686": "XC",   # tcheh
    "\u0688": "XXD",  # ddal
    "\u0689": "XDR",  # dal with ring
    "\u0691": "XXR",  # rreh
    "\u0693": "XRR",  # reh with ring
    "\u0696": "XRX",  # reh with dot below and dot above
    "\u0698": "XJ",   # jeh
    "\u069a": "XXS",  # seen with dot below and dot above
    "\u06a9": "XKK",  # keheh
    "\u06ab": "XXK",  # kaf with ring
    "\u06ad": "XNG",  # ng
    "\u06af": "XGG",  # gaf
    "\u06ba": "XNN",  # noon ghunna
    "\u06bc": "XXN",  # noon with ring
    "\u06be": "XDO",  # heh doachashmee
    "\u06c0": "XYH",  # heh with yeh above
    "\u06c1": "XXG",  # heh goal
    "\u06c2": "XGE",  # heh goal with hamza above
    "\u06c3": "XTG",  # teh marbuta goal
    "\u06cc": "XYA",  # farsi yeh
    "\u06cd": "XXY",  # yeh with tail
    "\u06d0": "Y",    # yeh (Pashto e)
    "\u06d2": "XYB",  # yeh barree
    "\u06d3": "XBE",  # yeh barree with hamza above
}

# Table C "not encoded" marks: harakat, tanwin, sukun, superscript alef, tatweel.
ARABIC_NOT_ENCODED = frozenset("\u064b\u064c\u064d\u064e\u064f\u0650\u0652\u0670\u0640")
# Table C "not encoded" letters: rejected rather than silently dropped.
ARABIC_UNSUPPORTED = frozenset("\u069c\u06a2\u06a7\u06a8")

_APOSTROPHES = frozenset("'`\u00b4\u2018\u2019\u02b9\u02bb\u02bc\u02bf\u02be")
_SEPARATORS = frozenset("<,\u060c")


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "unnamed character")
    return f"{ch!r} (U+{ord(ch):04X} {name})"


def _is_separator(ch: str) -> bool:
    return ch in _SEPARATORS or ch.isspace() or unicodedata.category(ch) == "Pd"


def _latin(ch: str, options: Mapping[str, str]) -> str | None:
    upper = ch.upper()
    if upper and all(c in _AZ for c in upper):
        return upper  # ASCII, and letters whose upper case is ASCII (ß -> SS, ı -> I)
    if len(upper) != 1:
        return None
    if upper in LATIN_ALTERNATIVES:
        return options.get(upper, LATIN_ALTERNATIVES[upper][0])
    if upper in LATIN:
        return LATIN[upper]
    if not unicodedata.name(upper, "").startswith("LATIN "):
        return None
    base = "".join(c for c in unicodedata.normalize("NFD", upper)
                   if unicodedata.category(c) != "Mn")
    if base and all(c in _AZ for c in base):
        return base
    return None


def _check_options(options: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (options or {}).items():
        k = key.upper() if isinstance(key, str) else key
        if k not in LATIN_ALTERNATIVES:
            raise InvalidInput(
                f"no transliteration alternatives for {key!r}; ICAO 9303-3 Table A offers "
                f"alternatives only for {', '.join(LATIN_ALTERNATIVES)}")
        if value not in LATIN_ALTERNATIVES[k]:
            raise InvalidInput(
                f"{value!r} is not an ICAO transliteration of {k}; choose one of "
                f"{', '.join(LATIN_ALTERNATIVES[k])}")
        checked[k] = value
    return checked


def _component_ends_after(text: str, i: int) -> bool:
    """True when the Arabic letter at ``i`` is the last letter of its name component."""
    j = i + 1
    while j < len(text) and (text[j] in ARABIC_NOT_ENCODED or text[j] == _SHADDA
                             or unicodedata.category(text[j]) in ("Mn", "Cf")):
        j += 1
    return j == len(text) or not text[j].isalpha()


def transliterate(text: str, *, options: Mapping[str, str] | None = None) -> str:
    """Return ``text`` in MRZ characters: name components in A-Z joined by single ``<``.

    ``options`` picks a Table A alternative per character, e.g. ``{"Ä": "A", "Ñ": "NXX"}``.
    Raises :class:`InvalidInput` for characters with no ICAO transliteration (digits,
    symbols, other scripts), listing each one with its position.
    """
    if not isinstance(text, str):
        raise InvalidInput("a name must be text")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput(f"name longer than {MAX_NAME_CHARS} characters")
    chosen = _check_options(options)
    text = unicodedata.normalize("NFKC", text)

    components: list[str] = []
    current: list[str] = []
    last_letter = ""  # transliteration of the previous letter, for shadda
    bad: list[str] = []

    def separate() -> None:
        nonlocal last_letter
        if current:
            components.append("".join(current))
            current.clear()
        last_letter = ""

    for i, ch in enumerate(text):
        if ch in ARABIC:
            last_letter = ARABIC[ch]
            current.append(last_letter)
        elif ch == _TEH_MARBUTA:
            last_letter = "XAH" if _component_ends_after(text, i) else "XTA"
            current.append(last_letter)
        elif ch == _SHADDA:
            if last_letter:  # doubling repeats the letters, not the X escape (FXDZDZXAH)
                current.append(last_letter[1:] if len(last_letter) > 1
                               and last_letter[0] == "X" else last_letter)
        elif ch in ARABIC_NOT_ENCODED:
            continue
        elif ch in ARABIC_UNSUPPORTED:
            bad.append(f"position {i + 1}: {_describe(ch)} is marked 'not encoded' in ICAO "
                       "9303-3 Table C; supply the MRZ spelling explicitly")
        elif _is_separator(ch):
            separate()
        elif ch in _APOSTROPHES:
            continue  # omitted, the parts are joined
        elif ch.isdigit() or unicodedata.category(ch) == "Nd":
            bad.append(f"position {i + 1}: digit {_describe(ch)}; numerals are not "
                       "permitted in MRZ names")
        elif ch.upper() in CYRILLIC and len(ch.upper()) == 1:
            last_letter = CYRILLIC[ch.upper()]
            current.append(last_letter)
        elif (latin := _latin(ch, chosen)) is not None:
            last_letter = latin
            current.append(latin)
        else:
            category = unicodedata.category(ch)
            if category.startswith("P") or category in ("Mn", "Cf"):
                continue  # other punctuation, stray diacritics, joiners: omitted
            bad.append(f"position {i + 1}: {_describe(ch)} has no ICAO 9303 transliteration")
    separate()
    if bad:
        raise InvalidInput(
            f"cannot transliterate {text!r} to the MRZ character set: {bad[0]}"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""),
            reasons=bad,
        )
    return "<".join(c for c in components if c)
