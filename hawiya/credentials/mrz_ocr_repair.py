"""MRZ OCR, repair: check-digit-guided correction of a reading, and doubt on look-alikes.

Steps 4 and 5 of :mod:`hawiya.credentials.mrz_ocr`, shared by its two recognisers (the
character scores are template correlations or log-probabilities). :func:`forced_repairs`
replaces characters the layout forbids (a letter in a date, a digit in a name) and, for the
text reader, fillers misread in a name's filler tail; :func:`repair` adds substitutions
where the recogniser ranked another character close behind, only when that makes the
failing check digits pass; when more than one consistent reading remains, nothing is
changed. :func:`_undetectable_doubts` finds check-protected characters whose close runner-up
the 7-3-1 check digits cannot tell apart (0/U, 8/S, 6/G...). :func:`verify_reading` runs it
all and builds :func:`~hawiya.credentials.mrz_ocr.read_mrz`'s answer.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable
from typing import Any

import numpy as np

from hawiya.credentials.mrz_format import CHARSET, SEGMENTS, _compute_check_digit
from hawiya.credentials.mrz_ocr_glyphs import ALPHABET
from hawiya.credentials.mrz_parse import parse_mrz

NEAR_SCORE = 0.12          # classifier alternatives within this score of the best count
MAX_GROUP_EDITS = 2        # substitutions tried inside one check-digit group
DOUBT_MARGIN = 0.15        # relative margin under which a check-blind runner-up is a doubt

# OCR confusions between letters and digits (both directions).
LETTER_TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "I": "1", "B": "8", "S": "5", "Z": "2",
                   "G": "6"}
DIGIT_TO_LETTER = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}


def _kind(doc_type: str, line: int, col: int) -> str:
    for seg in SEGMENTS[doc_type]:
        if seg.line == line and seg.start <= col < seg.end:
            return seg.kind
    return "alnum"


def _fits(kind: str, ch: str) -> bool:
    if kind == "digit":
        return ch in string.digits or ch == "<"
    if kind == "alpha":
        return ch in string.ascii_uppercase or ch == "<"
    return ch in CHARSET


def _alternatives(ch: str, kind: str, scores: np.ndarray | None,
                  near: float = NEAR_SCORE) -> list[str]:
    alts: list[str] = []
    if kind in ("digit", "alnum") and ch in LETTER_TO_DIGIT:
        alts.append(LETTER_TO_DIGIT[ch])
    if kind in ("alpha", "alnum") and ch in DIGIT_TO_LETTER:
        alts.append(DIGIT_TO_LETTER[ch])
    if scores is not None:
        best = float(scores.max())
        for k in np.argsort(-scores)[1:4]:
            if best - float(scores[k]) <= near:
                alts.append(ALPHABET[k])
    return [a for a in dict.fromkeys(alts) if a != ch and _fits(kind, a)]


def _groups(doc_type: str, width: int) -> list[tuple[str, list[tuple[int, int]], tuple[int, int]]]:
    """(name, data positions, check digit position) of the simple check-digit groups."""
    if doc_type == "TD1":
        spec = [("document_number", 0, range(5, 14), 14),
                ("date_of_birth", 1, range(0, 6), 6),
                ("date_of_expiry", 1, range(8, 14), 14)]
    else:
        spec = [("document_number", 1, range(0, 9), 9),
                ("date_of_birth", 1, range(13, 19), 19),
                ("date_of_expiry", 1, range(21, 27), 27)]
        if doc_type == "TD3":
            spec.append(("optional_data", 1, range(28, 42), 42))
    return [(name, [(ln, c) for c in cols], (ln, cd)) for name, ln, cols, cd in spec]


def _composite_only(doc_type: str) -> list[tuple[int, int]]:
    """Positions only the composite check digit protects (optional data of TD1, TD2)."""
    if doc_type == "TD1":
        return [(0, c) for c in range(15, 30)] + [(1, c) for c in range(18, 29)]
    if doc_type == "TD2":
        return [(1, c) for c in range(28, 35)]
    return []


def _group_ok(lines: list[str], data: list[tuple[int, int]], cd: tuple[int, int],
              name: str) -> bool:
    text = "".join(lines[ln][c] for ln, c in data)
    found = lines[cd[0]][cd[1]]
    if name == "optional_data" and text == "<" * len(text) and found in "<0":
        return True
    expected = _compute_check_digit(text)
    return expected is not None and found == str(expected)


def _apply(lines: list[str], edits: dict[tuple[int, int], str]) -> list[str]:
    out = [list(line) for line in lines]
    for (ln, c), ch in edits.items():
        out[ln][c] = ch
    return ["".join(line) for line in out]


def _forced_choice(ch: str, kind: str, sc: np.ndarray | None, near: float,
                   plausible_only: bool) -> tuple[str, bool]:
    """The character that replaces ``ch`` where the layout forbids it, and whether it was
    clearly the best choice ('' when there is none)."""
    pair = (LETTER_TO_DIGIT if kind == "digit" else DIGIT_TO_LETTER).get(ch, "")
    if sc is None:
        return pair, bool(pair)
    ranked = [ALPHABET[k] for k in np.argsort(-sc) if _fits(kind, ALPHABET[k])]
    if plausible_only:
        top = float(sc.max())
        ranked = [a for a in ranked if a == pair or top - float(sc[ALPHABET.index(a)]) <= near]
    if not ranked:
        return "", False
    second = float(sc[ALPHABET.index(ranked[1])]) if len(ranked) > 1 else -np.inf
    return ranked[0], float(sc[ALPHABET.index(ranked[0])]) - second > near


def _filler_tail(line: str, start: int, end: int, scores: np.ndarray, near: float
                 ) -> list[tuple[int, str, str, bool]]:
    """In a name field nothing but fillers may follow three fillers in a row (Doc 9303-3:
    name parts are separated by one filler, surname and given names by two): a letter read
    there becomes a filler where the recogniser gave the filler a real chance."""
    tail = line.find("<<<", start, end)
    if tail < 0:
        return []
    filler = ALPHABET.index("<")
    return [(c, line[c], "<", True) for c in range(tail + 3, end)
            if line[c] != "<" and float(scores[c].max() - scores[c][filler]) <= near]


def forced_repairs(lines: list[str], doc_type: str, scores: list[np.ndarray] | None = None,
                   near: float = NEAR_SCORE, plausible_only: bool = False,
                   ) -> tuple[list[str], list[dict[str, Any]]]:
    """Layout-forced repairs: a letter where only digits may stand (dates, check digits) or
    a digit where only letters may (names, codes, sex) is certainly a misreading; it becomes
    the best-scoring character that fits, or the confusion pair without scores.

    With ``plausible_only`` the replacement must be the confusion pair or score within
    ``near`` of the best: a recogniser sure of a digit in a country code may be reading what
    is printed (some specimens print digits there), and a guessed letter would hide that;
    a field with such a character is left as read altogether; and a letter after three
    fillers in the name field becomes a filler (:func:`_filler_tail`)."""
    width = len(lines[0])
    repairs: list[dict[str, Any]] = []
    forced: dict[tuple[int, int], str] = {}
    for seg in SEGMENTS[doc_type]:
        fixes = []
        for c in range(seg.start, min(seg.end, len(lines[seg.line]))):
            ch = lines[seg.line][c]
            if _fits(seg.kind, ch):
                continue
            to, unique = _forced_choice(ch, seg.kind, scores[seg.line][c]
                                        if scores is not None else None, near, plausible_only)
            fixes.append((c, ch, to, unique))
        if plausible_only and any(not to for *_, to, _ in fixes):
            continue      # the field cannot be made to fit: leave it as read
        if plausible_only and seg.field == "name" and scores is not None:
            tail = _filler_tail(lines[seg.line], seg.start, seg.end, scores[seg.line], near)
            fixes = [f for f in fixes if f[0] not in {t[0] for t in tail}] + tail
        for c, ch, to, unique in fixes:
            if to:
                forced[(seg.line, c)] = to
                repairs.append({"line": seg.line + 1, "column": c + 1,
                                "position": seg.line * width + c, "from": ch, "to": to,
                                "unique": unique})
    return _apply(lines, forced), repairs


def repair(lines: list[str], doc_type: str, scores: list[np.ndarray] | None = None,
           near: float = NEAR_SCORE, plausible_only: bool = False,
           ) -> tuple[list[str], list[dict[str, Any]], list[dict[str, str]]]:
    """Check-digit-guided repair of an OCR reading.

    ``scores`` (per line, characters x :data:`ALPHABET`, higher is better) rank the
    alternatives; those within ``near`` of a character's best score are tried
    (``plausible_only``: see :func:`forced_repairs`). Returns the (possibly) repaired lines,
    the repairs made and repair errors (an ambiguity or an impossible group). Lines are
    returned unchanged unless exactly one consistent reading was found among the candidates.
    """
    width = len(lines[0])
    problems: list[dict[str, str]] = []

    def score_at(ln: int, c: int) -> np.ndarray | None:
        return scores[ln][c] if scores is not None else None

    # 1. Layout-forced repairs.
    current, repairs = forced_repairs(lines, doc_type, scores, near, plausible_only)

    # 2. Each failing check-digit group: the edits (up to MAX_GROUP_EDITS) that make it pass.
    options: list[list[dict[tuple[int, int], str]]] = []
    failing: list[str] = []
    for name, data, cd in _groups(doc_type, width):
        if _group_ok(current, data, cd, name):
            continue
        failing.append(name)
        positions = [*data, cd]
        alts = {p: _alternatives(current[p[0]][p[1]], _kind(doc_type, *p), score_at(*p), near)
                for p in positions}
        candidates = [p for p in positions if alts[p]]
        fixes: list[dict[tuple[int, int], str]] = []
        # With a composite check digit behind it, the fewest edits win; a visa has none,
        # so there every reading with up to MAX_GROUP_EDITS edits competes.
        minimal = doc_type in ("TD1", "TD2", "TD3")
        for size in range(1, MAX_GROUP_EDITS + 1):
            for combo in itertools.combinations(candidates, size):
                for chars in itertools.product(*(alts[p] for p in combo)):
                    edit = dict(zip(combo, chars, strict=True))
                    if _group_ok(_apply(current, edit), data, cd, name):
                        fixes.append(edit)
            if fixes and minimal:
                break
        if not fixes:
            problems.append({"field": name, "reason": "OCR repair: no substitution among "
                             "the likely misreadings makes the check digit pass"})
            return lines, [], problems
        options.append(fixes)

    # 3. Combine the group fixes; the full parse (composite included) must be valid.
    if not options and parse_mrz("\n".join(current)).valid:
        return current, repairs, problems
    consistent: list[dict[tuple[int, int], str]] = []
    combos = [{k: v for part in combo for k, v in part.items()}
              for combo in itertools.product(*options)] if options else [{}]
    for edit in combos:
        if parse_mrz("\n".join(_apply(current, edit))).valid:
            consistent.append(edit)
        if len(consistent) > 1:
            break
    if not consistent:
        # 4. The composite alone fails: one misreading in optional data that only the
        #    composite check digit protects (TD1 and TD2).
        #    One mod-10 digit over many positions is weak evidence, so readings with one
        #    and with two edits all compete, and only a single consistent one is taken.
        extra = {p: _alternatives(current[p[0]][p[1]], _kind(doc_type, *p), score_at(*p), near)
                 for p in _composite_only(doc_type)}
        singles = [{p: ch} for p, alts in extra.items() for ch in alts]
        pairs = [{**a, **b} for a, b in itertools.combinations(singles, 2)
                 if a.keys() != b.keys()]
        for edit in combos:
            for extra_edit in singles + pairs:
                trial = {**edit, **extra_edit}
                if parse_mrz("\n".join(_apply(current, trial))).valid:
                    consistent.append(trial)
                    if len(consistent) > 1:
                        break
            if len(consistent) > 1:
                break
    if len(consistent) == 1:
        edit = consistent[0]
        for (ln, c), to in sorted(edit.items()):
            group_index = next((i for i, fixes in enumerate(options)
                                if any((ln, c) in f for f in fixes)), None)
            repairs.append({"line": ln + 1, "column": c + 1, "position": ln * width + c,
                            "from": current[ln][c], "to": to,
                            "unique": group_index is None or len(options[group_index]) == 1})
        return _apply(current, edit), repairs, problems
    if consistent:
        problems.append({"field": ",".join(failing) or "composite",
                         "reason": "OCR repair is ambiguous: several substitutions give a "
                                   "consistent MRZ, so none was applied"})
    else:
        problems.append({"field": ",".join(failing) or "composite",
                         "reason": "OCR repair: no combination of likely misreadings gives "
                                   "a consistent MRZ"})
    return lines, [], problems


def _value(ch: str) -> int:
    return 0 if ch == "<" else int(ch, 36)


def _undetectable_doubts(lines: list[str], doc_type: str, scores: list[np.ndarray],
                         similarity: np.ndarray | None,
                         margin: float = DOUBT_MARGIN) -> list[dict[str, Any]]:
    """Positions in check-protected alphanumeric fields where a close runner-up differs by
    a multiple of 10 in check-digit value (0/U, 6/G, 8/S, 1/L...): no check digit can tell
    such readings apart, so a valid-looking reading may be another document.

    Closeness is the score gap relative to how different the two templates are,
    ``(s_a - s_b) / (1 - sim_ab)``: 1 for a perfect ``a``, -1 for a perfect ``b``. Without a
    ``similarity`` (a recogniser's log-probabilities) it is the plain score gap."""
    doubts = []
    protected = {p for name, data, _ in _groups(doc_type, len(lines[0]))
                 if name in ("document_number", "optional_data") for p in data}
    protected.update(_composite_only(doc_type))
    for ln, c in sorted(protected):
        ch = lines[ln][c]
        sc = scores[ln][c]
        a = ALPHABET.index(ch)
        for k in np.argsort(-sc)[:4]:
            other = ALPHABET[k]
            if other == ch or (_value(other) - _value(ch)) % 10 != 0:
                continue
            sim = 0.0 if similarity is None else float(similarity[a, k])
            relative = float(sc[a] - sc[k]) / max(1e-3, 1.0 - sim)
            if relative < margin:
                seg = next(s for s in SEGMENTS[doc_type]
                           if s.line == ln and s.start <= c < s.end)
                doubts.append({
                    "field": seg.field,
                    "reason": f"ambiguous character at line {ln + 1}, column {c + 1}: read "
                              f"{ch!r}, but {other!r} fits almost as well and the check "
                              "digits cannot tell the two apart",
                    "line": ln + 1, "column": c + 1,
                })
                break
    return doubts


def verify_reading(texts: list[str], scores: list[np.ndarray], *, today: Any, near: float,
                   similarity: np.ndarray | None, margin: float, confidence: float,
                   plausible_only: bool = False,
                   more_doubts: Callable[..., list[dict[str, Any]]] | None = None,
                   ) -> dict[str, Any]:
    """Parse a recognised MRZ, repair it where exactly one consistent reading exists, doubt
    it where a check-blind look-alike came close, and build :func:`read_mrz`'s answer.

    Check-digit-guided repairs are kept only when they make the MRZ valid. With
    ``plausible_only`` (see :func:`forced_repairs`), layout-forced repairs are made even in
    a reading that parses (a filler tail), and kept, and listed, when the MRZ stays invalid
    (a check digit printed wrong must still fail); otherwise an invalid MRZ comes back
    exactly as read. ``more_doubts(lines, document_type, repaired)`` may add a recogniser's
    own doubts about a valid reading."""
    first = parse_mrz("\n".join(texts), today=today)
    doc_type = first.document_type
    read = list(texts)
    repaired: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    if (plausible_only or not first.valid) and doc_type is not None:
        texts, repaired, problems = repair(texts, doc_type, scores, near, plausible_only)
        if plausible_only and not parse_mrz("\n".join(texts), today=today).valid:
            texts, repaired = forced_repairs(read, doc_type, scores, near, True)
    result = parse_mrz("\n".join(texts), today=today)
    errors = result.errors if result.valid else [*result.errors, *problems]
    if result.valid and doc_type is not None:
        doubts = _undetectable_doubts(texts, doc_type, scores, similarity, margin)
        if more_doubts is not None:
            doubts += more_doubts(texts, doc_type, repaired)
        if doubts:  # report the reading (layout-forced repairs only), not valid, and why
            texts, repaired = (forced_repairs(read, doc_type, scores, near, True)
                               if plausible_only else (read, []))
            result = parse_mrz("\n".join(texts), today=today)
            result.valid = False
            errors = [*result.errors, *doubts]
    return {
        "found": True,
        "lines": texts,
        "valid": result.valid,
        "document_type": result.document_type,
        "fields": result.fields,
        "errors": errors,
        "repaired": repaired if result.valid or plausible_only else [],
        "confidence": round(max(0.0, confidence), 3),
    }
