"""ICAO 9303 MRZ: specimens, check digits, dates, builders, names, and property tests."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hawiya.credentials.mrz_build import build, build_td1, build_td2, build_td3, format_name
from hawiya.credentials.mrz_format import CHARSET, SEGMENTS, check_digit
from hawiya.credentials.mrz_parse import parse_mrz
from hawiya.errors import InvalidInput

TODAY = date(2026, 11, 24)

# ICAO Doc 9303 specimens (Utopia, Anna Maria Eriksson).
TD3_SPECIMEN = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10")          # Part 4
TD1_SPECIMEN = ("I<UTOD231458907<<<<<<<<<<<<<<<\n"
                "7408122F1204159UTO<<<<<<<<<<<6\n"
                "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")                         # Part 5
TD2_SPECIMEN = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
                "D231458907UTO7408122F1204159<<<<<<<6")                  # Part 6
MRVA_SPECIMEN = ("VNUTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                 "L898902C<3UTO6908061F9406236ZE184226B<<<<<<<")          # Part 7
ETD_SPECIMEN = ("PUUTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
                "D231458907UTO7408122F2606277<<<<<<<8")                  # Part 8 (TD2 size)

RESULT_KEYS = {"valid", "document_type", "fields", "errors"}


def parse(text, today=TODAY):
    return parse_mrz(text, today=today)


def error_fields(result) -> set[str]:
    return {e["field"] for e in result.errors}


def td3_with(old: str, new: str) -> str:
    """The TD3 specimen with ``old`` replaced by ``new`` in line 2, composite recomputed."""
    line1, line2 = TD3_SPECIMEN.splitlines()
    line2 = line2.replace(old, new)[:43]
    return line1 + "\n" + line2 + check_digit(line2[0:10] + line2[13:20] + line2[21:43])


# --------------------------------------------------------------------------- specimens

def test_td3_specimen():
    r = parse(TD3_SPECIMEN)
    assert r.valid, r.errors
    assert r.document_type == "TD3"
    f = r.fields
    assert f["document_code"] == "P"
    assert f["issuing_state"] == "UTO"
    assert f["surname"] == "ERIKSSON"
    assert f["given_names"] == "ANNA MARIA"
    assert f["document_number"] == "L898902C3"
    assert f["document_number_check_digit"] == "6"
    assert f["nationality"] == "UTO"
    assert f["date_of_birth"] == "1974-08-12"
    assert f["sex"] == "F"
    assert f["date_of_expiry"] == "2012-04-15"
    assert f["optional_data"] == "ZE184226B"
    assert f["optional_data_check_digit"] == "1"
    assert f["composite_check_digit"] == "0"
    assert f["expired"] is True  # information, not an error


def test_td1_specimen():
    r = parse(TD1_SPECIMEN)
    assert r.valid, r.errors
    assert r.document_type == "TD1"
    f = r.fields
    assert (f["document_code"], f["issuing_state"], f["document_number"]) == \
        ("I", "UTO", "D23145890")
    assert (f["date_of_birth"], f["sex"], f["date_of_expiry"]) == \
        ("1974-08-12", "F", "2012-04-15")
    assert (f["nationality"], f["optional_data"], f["optional_data_2"]) == ("UTO", "", "")
    assert (f["surname"], f["given_names"]) == ("ERIKSSON", "ANNA MARIA")
    assert f["composite_check_digit"] == "6"


def test_td2_specimen():
    r = parse(TD2_SPECIMEN)
    assert r.valid, r.errors
    assert r.document_type == "TD2"
    assert r.fields["document_number"] == "D23145890"
    assert r.fields["surname"] == "ERIKSSON"
    assert r.fields["composite_check_digit"] == "6"


def test_visa_and_emergency_travel_document_specimens():
    r = parse(MRVA_SPECIMEN)
    assert r.valid, r.errors
    assert r.document_type == "MRV-A"
    assert r.fields["document_number"] == "L898902C"
    assert r.fields["date_of_expiry"] == "1994-06-23"
    assert "composite_check_digit" not in r.fields
    r = parse(ETD_SPECIMEN)
    assert r.valid, r.errors
    assert (r.document_type, r.fields["document_code"]) == ("TD2", "PU")


def test_part3_composite_example():
    # Doc 9303-3 Appendix A, composite check digit example (TD2 lower line).
    lower = "HA672242<6YTO5802254M9601086<<<<<<<8"
    r = parse("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n" + lower)
    assert r.valid, r.errors
    assert r.fields["document_number"] == "HA672242"


def test_check_digit_examples():
    assert check_digit("520727") == "3"      # Part 3 Appendix A, example 1
    assert check_digit("AB2134<<<") == "5"   # Part 3 Appendix A, example 2
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("120415") == "9"
    assert check_digit("ZE184226B<<<<<") == "1"
    assert check_digit("") == "0"
    with pytest.raises(InvalidInput):
        check_digit("ab")


def test_to_dict_has_exactly_the_contract_keys():
    for text in (TD3_SPECIMEN, "garbage", None):
        d = parse(text).to_dict()
        assert set(d) == RESULT_KEYS
        for e in d["errors"]:
            assert {"field", "reason"} <= set(e)


# --------------------------------------------------------------------------- input handling

def test_surrounding_whitespace_is_normalised():
    text = "\n  " + TD3_SPECIMEN.replace("\n", "  \r\n\n\t ") + " \n\n"
    assert parse(text).valid
    assert parse(TD3_SPECIMEN.splitlines()).valid          # list of lines
    assert parse(TD3_SPECIMEN.encode()).valid              # bytes
    assert parse(TD3_SPECIMEN.replace("\n", "")).valid     # one 88-character line


def test_lower_case_is_an_illegal_character():
    r = parse(TD3_SPECIMEN.lower())
    assert not r.valid
    first = r.errors[0]
    assert "lower-case" in first["reason"]
    assert (first["line"], first["column"]) == (1, 1)


def test_illegal_character_position_and_field():
    lines = TD3_SPECIMEN.splitlines()
    lines[1] = lines[1][:15] + "é" + lines[1][16:]
    r = parse("\n".join(lines))
    assert not r.valid
    err = next(e for e in r.errors if "illegal character" in e["reason"])
    assert (err["line"], err["column"], err["field"]) == (2, 16, "date_of_birth")
    inner_space = TD3_SPECIMEN.replace("ANNA<MARIA", "ANNA MARIA")
    r = parse(inner_space)
    assert any("space" in e["reason"] and e["field"] == "name" for e in r.errors)


def test_wrong_line_lengths_and_counts():
    r = parse(TD3_SPECIMEN[:-1])
    assert not r.valid and r.document_type is None
    assert any("wrong line length" in e["reason"] and e["line"] == 2 for e in r.errors)
    r = parse(TD1_SPECIMEN + "\nEXTRA")
    assert any("4 lines" in e["reason"] for e in r.errors)
    r = parse("P<UTO")
    assert any("1 line;" in e["reason"] for e in r.errors)
    assert not parse("").valid
    assert not parse("   \n  ").valid


def test_oversized_and_non_text_input():
    r = parse("P" * 5000)
    assert not r.valid and "1024" in r.errors[0]["reason"]
    for junk in (None, 42, 3.5, object(), [1, 2], {"a": 1}, b"\xff\xfe" * 30):
        r = parse(junk)
        assert not r.valid and r.errors


# --------------------------------------------------------------------------- field checks

def test_bad_check_digit_reports_expected_and_found():
    bad = TD3_SPECIMEN.replace("L898902C36", "L898902C37")
    r = parse(bad)
    err = next(e for e in r.errors if e["field"] == "document_number")
    assert (err["expected"], err["found"]) == ("6", "7")
    assert "composite" in error_fields(r)


def test_impossible_dates():
    r = parse(TD3_SPECIMEN.replace("7408122", "7413322"))
    assert "date_of_birth" in error_fields(r)
    assert r.fields["date_of_birth"] == "741332"   # raw when impossible
    lines = TD3_SPECIMEN.splitlines()
    line2 = lines[1][:13] + "740230" + check_digit("740230") + lines[1][20:]
    r = parse(lines[0] + "\n" + line2)
    assert any(e["field"] == "date_of_birth" and "impossible" in e["reason"]
               for e in r.errors)


def test_unknown_sex_code():
    lines = TD3_SPECIMEN.splitlines()
    r = parse(lines[0] + "\n" + lines[1][:20] + "Q" + lines[1][21:])
    assert any(e["field"] == "sex" and "unknown sex code" in e["reason"] for e in r.errors)
    r = parse(lines[0] + "\n" + lines[1][:20] + "<" + lines[1][21:])
    assert r.valid and r.fields["sex"] == "X"


def test_birth_century_rule():
    def dob(yymmdd, today):
        return parse(build_td3(document_number="X1", issuing_state="UTO", nationality="UTO",
                               date_of_birth=yymmdd, sex="M", date_of_expiry="300101",
                               surname="A", today=today), today=today).fields["date_of_birth"]
    assert dob("740812", TODAY) == "1974-08-12"
    assert dob("250101", TODAY) == "2025-01-01"
    assert dob("261124", TODAY) == "2026-11-24"    # today is in the past enough
    assert dob("261125", date(2027, 1, 1)) == "2026-11-25"
    r = parse(TD3_SPECIMEN.replace("7408122", "2611259"))
    assert r.fields["date_of_birth"] == "1926-11-25"   # tomorrow is 100 years ago
    assert dob("000229", TODAY) == "2000-02-29"


def test_expiry_century_window():
    def doe(yymmdd):
        text = TD3_SPECIMEN.replace("1204159", yymmdd + check_digit(yymmdd))
        return parse(text).fields["date_of_expiry"]
    assert doe("750101") == "2075-01-01"   # today.year + 49
    assert doe("760101") == "1976-01-01"   # today.year - 50
    assert doe("991231") == "1999-12-31"
    assert doe("340101") == "2034-01-01"


def test_partly_unknown_birth_date():
    for raw, ok in [("74<<<<", True), ("7408<<", True), ("<<<<<<", True),
                    ("7413<<", False), ("7<0812", False)]:
        r = parse(td3_with("7408122", raw + check_digit(raw)))
        assert r.valid is ok, (raw, r.errors)
        assert r.fields["date_of_birth"] == raw


def test_td3_personal_number_check_digit_filler_rule():
    line1 = TD3_SPECIMEN.splitlines()[0]
    base = "L898902C36UTO7408122F1204159" + "<" * 14
    for cd in "<0":
        line2 = base + cd
        line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:43])
        assert parse(line1 + "\n" + line2).valid
    # with data present, '<' is not an acceptable check digit
    line2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<<"
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:43])
    r = parse(line1 + "\n" + line2)
    assert "optional_data" in error_fields(r)


def test_country_code_and_document_code_checks():
    r = parse(TD3_SPECIMEN.replace("P<UTO", "P<U1O"))
    assert "issuing_state" in error_fields(r)
    r = parse(TD3_SPECIMEN.replace("P<UTO", "I<UTO"))
    assert "document_code" in error_fields(r)
    r = parse(TD1_SPECIMEN.replace("I<UTOD", "P<UTOD"))
    assert "document_code" in error_fields(r)
    germany = build_td1(document_number="T22000129", issuing_state="D", nationality="D",
                        date_of_birth="640812", sex="F", date_of_expiry="310331",
                        surname="Mustermann", given_names="Erika", document_code="ID",
                        today=TODAY)
    assert germany.startswith("IDD<<T22000129")
    r = parse(germany)
    assert r.valid and r.fields["issuing_state"] == "D"


def test_digits_in_name_field():
    r = parse(TD3_SPECIMEN.replace("ERIKSSON", "ER1KSSON"))
    assert "name" in error_fields(r)


# --------------------------------------------------------------------------- long numbers

def test_td1_long_document_number_round_trip():
    text = build_td1(document_number="D23145890ABC12", issuing_state="UTO",
                     nationality="UTO", date_of_birth="740812", sex="F",
                     date_of_expiry="120415", surname="Eriksson", given_names="Anna Maria",
                     optional_data="XY", today=TODAY)
    line1 = text.splitlines()[0]
    assert line1[5:15] == "D23145890<"
    assert line1[15:21] == "ABC12" + check_digit("D23145890ABC12")
    assert line1[21] == "<"
    r = parse(text)
    assert r.valid, r.errors
    assert r.fields["document_number"] == "D23145890ABC12"
    assert r.fields["optional_data"] == "XY"


def test_td2_long_document_number_round_trip():
    text = build_td2(document_number="AB1234567890", issuing_state="UTO",
                     nationality="UTO", date_of_birth="740812", sex="M",
                     date_of_expiry="300101", surname="Doe", today=TODAY)
    r = parse(text)
    assert r.valid, r.errors
    assert r.fields["document_number"] == "AB1234567890"
    with pytest.raises(InvalidInput):
        build_td2(document_number="AB12345678901234", issuing_state="UTO",
                  nationality="UTO", date_of_birth="740812", sex="M",
                  date_of_expiry="300101", surname="Doe", today=TODAY)


def test_long_number_marker_without_continuation_is_an_error():
    bad = TD1_SPECIMEN.replace("D231458907", "D23145890<")
    r = parse(bad)
    assert not r.valid
    assert "document_number" in error_fields(r)


# --------------------------------------------------------------------------- builders

SPECIMEN_FIELDS = dict(issuing_state="UTO", nationality="UTO", date_of_birth="1974-08-12",
                       sex="F", date_of_expiry="2012-04-15", surname="Eriksson",
                       given_names="Anna María", today=TODAY)


def test_builders_reproduce_the_specimens():
    assert build_td3(document_number="L898902C3", optional_data="ZE184226B",
                     **SPECIMEN_FIELDS) == TD3_SPECIMEN
    assert build_td1(document_number="D23145890", **SPECIMEN_FIELDS) == TD1_SPECIMEN
    assert build_td2(document_number="D23145890", **SPECIMEN_FIELDS) == TD2_SPECIMEN
    assert build("td2", document_number="D23145890", **SPECIMEN_FIELDS) == TD2_SPECIMEN
    assert build_td3(document_number="L898902C3", optional_data="ZE184226B",
                     **{**SPECIMEN_FIELDS, "date_of_birth": date(1974, 8, 12),
                        "date_of_expiry": date(2012, 4, 15)}) == TD3_SPECIMEN


@pytest.mark.parametrize("override", [
    {"issuing_state": "UT0"}, {"issuing_state": "UTOP"}, {"issuing_state": ""},
    {"nationality": "U-O"}, {"document_number": "L89€"}, {"document_number": ""},
    {"document_number": "L898902C3X"},            # TD3: 9 characters at most
    {"date_of_birth": "2023-02-30"}, {"date_of_birth": "741332"},
    {"date_of_birth": "2030-01-01"},              # in the future
    {"date_of_expiry": "12041"}, {"date_of_expiry": "12<415"}, {"sex": "Q"},
    {"surname": ""}, {"surname": "R2D2"}, {"given_names": "Anna ☺"},
    {"optional_data": "A" * 15}, {"document_code": "I"}, {"document_code": "P1"},
])
def test_builder_rejects_impossible_input(override):
    fields = {"document_number": "L898902C3", **SPECIMEN_FIELDS, **override}
    with pytest.raises(InvalidInput):
        build_td3(**fields)


def test_build_rejects_unknown_type_and_fields():
    with pytest.raises(InvalidInput):
        build("TD9", document_number="X")
    with pytest.raises(InvalidInput):
        build("TD3", colour="blue")


def test_builder_writes_special_characters_as_fillers():
    text = build_td3(document_number="AB 12-34", optional_data="12 345", **SPECIMEN_FIELDS)
    assert text.splitlines()[1].startswith("AB<12<34<")
    r = parse(text)
    assert r.valid and r.fields["document_number"] == "AB<12<34"


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("surname,given,width,expected", [
    # Doc 9303-4 4.2.3.1 / 4.2.3.2 (the secondary identifier is cut at the field end)
    ("Eriksson", "Anna Maria", 39, "ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"),
    ("Smith-Jones", "Susie Margaret", 39, "SMITH<JONES<<SUSIE<MARGARET<<<<<<<<<<<<"),
    ("O'Connor", "Enya Siobhan", 39, "OCONNOR<<ENYA<SIOBHAN<<<<<<<<<<<<<<<<<<"),
    ("Arkfreith", "", 39, "ARKFREITH" + "<" * 30),
    ("Nilavadhanananda", "Chayapa Dejthamrong Krasuang", 39,
     "NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K"),
    ("Nilavadhanananda", "Arnpol Petch Charonguang", 39,
     "NILAVADHANANANDA<<ARNPOL<PETCH<CHARONGU"),
    ("Papandropoulous", "Jonathon Warren Trevor", 39,
     "PAPANDROPOULOUS<<JONATHON<WARREN<TREVOR"),
    # Doc 9303-5 (TD1) and 9303-6 (TD2) examples
    ("Vilarchao Fernandez", "Jose Ramon", 30, "VILARCHAO<FERNANDEZ<<JOSE<RAMO"),
    ("Al-Basri", "Huda Muhammad Jawad", 30, "AL<BASRI<<HUDA<MUHAMMAD<JAWAD<"),
    ("Papandropoulous", "Jonathon Alec", 30, "PAPANDROPOULOUS<<JONATHON<ALEC"),
    ("Vilarchao Fernandez", "Jose Ramon", 31, "VILARCHAO<FERNANDEZ<<JOSE<RAMON"),
    # our rule 3 (primary identifier cut, then << and one secondary letter)
    ("Bennelong Wooloomooloo Warrandyte Warnambool", "Dingo Potoroo", 39,
     "BENNELONG<WOOLOOMOOLOO<WARRANDYTE<WA<<D"),
    # our rule 4 (a cut falling on a filler moves one letter)
    ("Nilavadhanananda", "Chayapa Dejthamrongx Krasuang", 39,
     "NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K"),
])
def test_name_field(surname, given, width, expected):
    assert format_name(surname, given, width) == expected


component = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=14)


@given(st.lists(component, min_size=1, max_size=5), st.lists(component, max_size=5),
       st.sampled_from([30, 31, 39]))
def test_name_field_properties(primary, secondary, width):
    """Length is exact; a name that fits is written whole; a truncated name ends with a
    letter and keeps, in order, prefixes of the original components."""
    out = format_name(" ".join(primary), " ".join(secondary), width)
    assert len(out) == width and set(out) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
    full = "<".join(primary) + ("<<" + "<".join(secondary) if secondary else "")
    if len(full) <= width:
        assert out == full.ljust(width, "<")
        return
    assert out[-1] != "<"
    p_out, _, s_out = out.partition("<<")
    for got, original in ((p_out, primary), (s_out, secondary)):
        parts = got.split("<") if got else []
        assert len(parts) <= len(original)
        for g, o in zip(parts, original, strict=False):
            assert o.startswith(g) and g
    if secondary:
        assert "<<" in out and s_out[:1] == secondary[0][0]


# --------------------------------------------------------------------------- properties

LETTER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTER + "0123456789"
codes = st.text(alphabet=LETTER, min_size=1, max_size=3)
names = st.lists(component, min_size=1, max_size=3).map(" ".join)
given_names = st.lists(component, min_size=0, max_size=3).map(" ".join)
births = st.dates(min_value=TODAY - timedelta(days=99 * 365), max_value=TODAY)
expiries = st.dates(min_value=date(TODAY.year - 49, 1, 1), max_value=date(TODAY.year + 49, 12, 31))
sexes = st.sampled_from(["M", "F", "X"])


def optional(max_size):
    return st.text(alphabet=ALNUM + "<", max_size=max_size).map(lambda s: s.rstrip("<"))


@st.composite
def documents(draw, doc_type=None):
    doc_type = doc_type or draw(st.sampled_from(["TD1", "TD2", "TD3"]))
    fields = dict(issuing_state=draw(codes), nationality=draw(codes),
                  date_of_birth=draw(births), sex=draw(sexes), date_of_expiry=draw(expiries),
                  surname=draw(names), given_names=draw(given_names), today=TODAY)
    max_number = {"TD1": 22, "TD2": 14, "TD3": 9}[doc_type]
    number = draw(st.text(alphabet=ALNUM, min_size=1, max_size=max_number))
    fields["document_number"] = number
    if doc_type == "TD3":
        fields["optional_data"] = draw(optional(14))
    else:
        width = 15 if doc_type == "TD1" else 7
        room = width if len(number) <= 9 else width - (len(number) - 9) - 2
        fields["optional_data"] = draw(optional(room))
        if doc_type == "TD1":
            fields["optional_data_2"] = draw(optional(11))
    return doc_type, fields


@given(documents())
def test_build_parse_round_trip(doc):
    doc_type, fields = doc
    text = build(doc_type, **fields)
    r = parse(text)
    assert r.valid, (text, r.errors)
    assert r.document_type == doc_type
    f = r.fields
    assert f["document_number"] == fields["document_number"]
    assert f["issuing_state"] == fields["issuing_state"]
    assert f["nationality"] == fields["nationality"]
    assert f["date_of_birth"] == fields["date_of_birth"].isoformat()
    assert f["date_of_expiry"] == fields["date_of_expiry"].isoformat()
    assert f["sex"] == fields["sex"]
    assert f["optional_data"] == fields["optional_data"]
    if doc_type == "TD1":
        assert f["optional_data_2"] == fields["optional_data_2"]
    assert f["expired"] == (fields["date_of_expiry"] < TODAY)
    width = {"TD1": 30, "TD2": 31, "TD3": 39}[doc_type]
    full = fields["surname"].replace(" ", "<")
    if fields["given_names"]:
        full += "<<" + fields["given_names"].replace(" ", "<")
    if len(full) <= width:
        assert f["surname"] == fields["surname"]
        assert f["given_names"] == fields["given_names"]
    else:
        assert f["name_possibly_truncated"]


def _value(ch: str) -> int:
    return 0 if ch == "<" else int(ch, 36)


def _composite_positions(doc_type: str) -> list[tuple[int, int]]:
    """(line, column) of every character the composite check digit protects, plus itself."""
    if doc_type == "TD1":
        cols = [(0, c) for c in range(5, 30)]
        cols += [(1, c) for c in [*range(0, 7), *range(8, 15), *range(18, 30)]]
    else:
        end = 43 if doc_type == "TD3" else 35
        cols = [(1, c) for c in [*range(0, 10), *range(13, 20), *range(21, end + 1)]]
    return cols


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.data())
def test_single_substitution_is_detected(doc, data):
    """The property tested, precisely: replacing one character at a position the composite
    check digit covers (or the composite digit itself) by another MRZ character whose value
    differs from the original's by an amount not divisible by 10 always makes the MRZ
    invalid, and "composite" is among the error fields. For the date fields, and for every
    field of a TD3, the field's own check digit (or date check) reports it too.

    Substitutions whose value difference is a multiple of 10 ('<' <-> '0', '0' <-> 'A' <->
    'K' <-> 'U', '1' <-> 'B' ...) are undetectable by 7-3-1 modulus 10 and are excluded."""
    doc_type, fields = doc
    lines = build(doc_type, **fields).splitlines()
    line, col = data.draw(st.sampled_from(_composite_positions(doc_type)))
    old = lines[line][col]
    new = data.draw(st.sampled_from(sorted(CHARSET)))
    assume((_value(new) - _value(old)) % 10 != 0)
    lines[line] = lines[line][:col] + new + lines[line][col + 1:]
    r = parse("\n".join(lines))
    assert not r.valid
    fields_hit = error_fields(r)
    assert "composite" in fields_hit
    seg = next(s for s in SEGMENTS[doc_type]
               if s.line == line and s.start <= col < s.end)
    own = seg.field.removesuffix("_check_digit")
    if own in ("date_of_birth", "date_of_expiry") or (doc_type == "TD3" and own != "composite"):
        assert own in fields_hit, (own, r.errors)


@given(documents(), st.data())
def test_wrong_length_is_reported(doc, data):
    doc_type, fields = doc
    lines = build(doc_type, **fields).splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    if data.draw(st.booleans()):
        lines[i] = lines[i][:-1]
    else:
        lines[i] += data.draw(st.sampled_from(sorted(CHARSET)))
    r = parse("\n".join(lines))
    assert not r.valid
    assert any("wrong line length" in e["reason"] for e in r.errors)


@given(documents(), st.data(),
       st.characters(blacklist_characters="".join(sorted(CHARSET)),
                     blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")))
def test_illegal_character_is_reported_with_position(doc, data, bad):
    doc_type, fields = doc
    lines = build(doc_type, **fields).splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(0, len(lines[i]) - 1))
    assume(not bad.isspace() and len(bad) == 1)
    lines[i] = lines[i][:j] + bad + lines[i][j + 1:]
    r = parse("\n".join(lines))
    assert not r.valid
    assert any(e.get("line") == i + 1 and e.get("column") == j + 1
               and "illegal character" in e["reason"] for e in r.errors)


def _never_raises(value):
    r = parse_mrz(value, today=TODAY)
    d = r.to_dict()
    assert set(d) == RESULT_KEYS
    assert d["valid"] == (not d["errors"])
    assert not any("internal error" in e["reason"] for e in d["errors"])
    return r


@given(st.one_of(st.text(max_size=2000), st.binary(max_size=300),
                 st.lists(st.text(max_size=60), max_size=5)))
def test_fuzz_arbitrary_input_never_raises(value):
    _never_raises(value)


@given(st.lists(st.text(alphabet=ALNUM + "<", min_size=28, max_size=46), min_size=1,
                max_size=4))
def test_fuzz_mrz_shaped_input_never_raises(lines):
    _never_raises("\n".join(lines))


@given(documents(), st.data())
def test_fuzz_mutated_documents_never_raise(doc, data):
    doc_type, fields = doc
    text = build(doc_type, **fields)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(text) - 1))
        text = text[:i] + data.draw(st.text(max_size=2)) + text[i + 1:]
    _never_raises(text)


@given(st.sampled_from(["TD1", "TD2", "TD3"]).flatmap(documents))
def test_every_built_mrz_uses_only_mrz_characters(doc):
    doc_type, fields = doc
    lines = build(doc_type, **fields).splitlines()
    assert all(set(line) <= CHARSET for line in lines)
    assert all(re.fullmatch(r"[A-Z<]+", line) for line in [lines[-1] if doc_type == "TD1"
                                                            else lines[0]])
