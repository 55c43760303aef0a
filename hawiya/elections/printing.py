"""Printable per-station voter lists (PDF), for the clerks' paper backup and signatures."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from hawiya.credentials.cards import font
from hawiya.elections.roll import export_csv
from hawiya.errors import NotFound

if TYPE_CHECKING:
    from hawiya.platform import Platform

PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 90
ROW_H = 44
COLUMNS = ((0, "No."), (240, "Name"), (760, "Born"), (930, "Signature"))


def station_list_pdf(platform: Platform, code: str, station: str) -> bytes:
    """A4 pages listing the station's voters with a signature column."""
    rows = list(csv.DictReader(io.StringIO(export_csv(platform, code, station))))
    if not rows:
        raise NotFound(f"station {station!r} has no voters on the roll of {code!r}")
    head, body, small = font("bold", 30), font("sans", 24), font("sans", 18)
    per_page = (PAGE[1] - 2 * MARGIN - 160) // ROW_H
    pages = []
    for start in range(0, len(rows), per_page):
        page = Image.new("RGB", PAGE, "white")
        draw = ImageDraw.Draw(page)
        draw.text((MARGIN, MARGIN), f"Election {code} · station {station}", font=head,
                  fill="black")
        draw.text((MARGIN, MARGIN + 44), f"voters {start + 1}-"
                  f"{min(start + per_page, len(rows))} of {len(rows)} · page "
                  f"{start // per_page + 1}", font=small, fill="#444")
        y = MARGIN + 110
        for x, title in COLUMNS:
            draw.text((MARGIN + x, y), title, font=small, fill="#444")
        y += 34
        for r in rows[start:start + per_page]:
            draw.line((MARGIN, y - 4, PAGE[0] - MARGIN, y - 4), fill="#ccc")
            draw.text((MARGIN, y), r["voter_number"], font=body, fill="black")
            draw.text((MARGIN + 240, y), r["name"][:34], font=body, fill="black")
            draw.text((MARGIN + 760, y), r["date_of_birth"], font=body, fill="black")
            y += ROW_H
        pages.append(page)
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    return buf.getvalue()
