"""Patient statements as PDF, one page (or more) per patient, with fpdf2.

fpdf2 is pure Python (its only dependencies, Pillow, fonttools and defusedxml, are wheels),
so nothing beyond pip is needed — WeasyPrint would need Pango and Cairo from the system, and
ReportLab's table layout is more code for the same page. Text is set in DejaVu Sans (any
name, any script it covers) when the font is installed (Debian's ``fonts-dejavu-core``; or
``CIRCLES_PDF_FONT`` names a TrueType file); without it, in the PDF core font Helvetica,
which holds only Latin-1: other characters then print as "?".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
HEADINGS = ("Date", "Group", "Kind", "Attendance", "Code", "Fee in force", "Amount")
WIDTHS = (21, 34, 22, 49, 18, 23, 23)  # mm: the 190 between A4 margins


def _font(pdf: FPDF) -> tuple[str, bool]:
    """The family to write with, and whether it holds all of Unicode's common scripts."""
    regular = Path(os.environ.get("CIRCLES_PDF_FONT", DEJAVU / "DejaVuSans.ttf"))
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    if not regular.is_file():
        return "Helvetica", False
    pdf.add_font("Body", "", str(regular))
    pdf.add_font("Body", "B", str(bold if bold.is_file() else regular))
    return "Body", True


def statements_pdf(
    statements: list[dict[str, Any]],
    period: tuple[str, str],
    groups: dict[str, str],
    labels: dict[str, dict[str, str]],
) -> bytes:
    """The statements (as ``billing.statements_for`` gives them) as one PDF document."""
    pdf = FPDF(format="A4")
    pdf.set_title("Patient statements")
    pdf.set_creator("Circles")
    pdf.set_auto_page_break(True, margin=15)
    family, unicode = _font(pdf)

    def text(value: Any) -> str:
        shown = str(value)
        return shown if unicode else shown.encode("latin-1", "replace").decode("latin-1")

    start, end = period
    if not statements:
        pdf.add_page()
        pdf.set_font(family, "", 11)
        pdf.cell(0, 8, f"No charge lines from {start or 'the start'} to {end or 'today'}.")
    for s in statements:
        pdf.add_page()
        pdf.set_font(family, "B", 16)
        pdf.cell(0, 9, text(f"Statement: {s['name']}"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)
        pdf.cell(0, 6, text(f"Patient {s['patient_id']}"), new_x="LMARGIN", new_y="NEXT")
        pdf.cell(
            0, 6, f"Sessions from {start or 'the start'} to {end or 'today'}",
            new_x="LMARGIN", new_y="NEXT",
        )  # fmt: skip
        pdf.ln(3)
        pdf.set_font(family, "", 9)
        heading = FontFace(emphasis="BOLD", fill_color=(238, 240, 236))
        with pdf.table(
            col_widths=WIDTHS, headings_style=heading, line_height=5.5, text_align="LEFT"
        ) as table:
            table.row(HEADINGS)
            for line in s["lines"]:
                code = line["billing_code"] + (f"-{line['modifier']}" if line["modifier"] else "")
                table.row(
                    [
                        line["session_date"].isoformat(),
                        text(groups.get(str(line["group_id"]), str(line["group_id"]))),
                        labels["kind"].get(line["session_kind"], line["session_kind"]),
                        labels["status"].get(line["attendance_status"], line["attendance_status"]),
                        code,
                        f"{line['fee']} {line['currency']}",
                        f"{line['amount']} {line['currency']}",
                    ]
                )
        pdf.ln(4)
        pdf.set_font(family, "B", 11)
        pdf.cell(0, 7, "Totals per currency", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)
        for t in s["totals"]:
            pdf.cell(
                0, 6,
                f"{t['currency']}: total {t['total']} {t['currency']}, maintenance subtotal "
                f"{t['maintenance_subtotal']} {t['currency']} ({t['lines']} lines, "
                f"{t['billable']} billable)",
                new_x="LMARGIN", new_y="NEXT",
            )  # fmt: skip
    return bytes(pdf.output())
