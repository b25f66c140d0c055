"""The registration notice (BİLDİRİŞ № … tarix …) as a one-page PDF, drawn directly with reportlab."""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

import segno
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from dost.models import Application, ApplicationReason, ApplicationType, CredentialKind, Notice
from dost.services.signing import format_code
from dost.timeutil import local

FONT_DIRECTORIES = [
    os.environ.get("DOST_FONT_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
    "/Library/Fonts",
]
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
QR_MASK = 4
# Binary (not ASCII85) streams: smaller files and less pure-Python encoding work.
rl_config.useA85 = 0

# The notice is an official document in the state language, whatever the UI language.
REASON_TEXT = {
    ApplicationReason.DOCUMENT_CHANGED: "Şəxsiyyəti təsdiq edən sənəddəki dəyişiklik",
    ApplicationReason.LOST: "Dövlət sosial sığorta şəhadətnaməsinin itirilməsi",
    ApplicationReason.DATA_ERROR: "SSŞ-də yazılan məlumatlarda yanlışlıq və ya səhv aşkar edilməsi",
    ApplicationReason.DAMAGED: "Dövlət sosial sığorta şəhadətnaməsinin yararsız hala düşməsi",
}
SIGNATURE_METHODS = {CredentialKind.CARD: "RYTN e-İmza kartı", CredentialKind.ASAN: "Asan İmza",
                     CredentialKind.SIMA: "SİMA"}
TYPE_TEXT = {ApplicationType.CHANGE: "Dəyişdirilmə", ApplicationType.DUPLICATE: "Dublikat"}


class FontNotFound(RuntimeError):
    """No Unicode font for Azerbaijani letters: install Debian's fonts-dejavu-core or set DOST_FONT_DIR."""


@lru_cache(maxsize=1)
def register_fonts() -> None:
    """Embed DejaVu Sans (it has Ə, İ, ı, Ş, Ç, Ğ, Ö, Ü); fail clearly if it is missing."""
    for directory in filter(None, FONT_DIRECTORIES):
        regular, bold = Path(directory) / "DejaVuSans.ttf", Path(directory) / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
            pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
            return
    raise FontNotFound(
        "DejaVu Sans was not found (looked in: " + ", ".join(filter(None, FONT_DIRECTORIES)) + "). "
        "Install the Debian package fonts-dejavu-core or set DOST_FONT_DIR to a directory holding DejaVuSans.ttf."
    )


def _draw_qr(pdf: canvas.Canvas, url: str, x: float, y: float, size: float) -> None:
    # Any of the eight masks is a valid code; fixing one skips segno's pure-Python evaluation of all eight.
    # boost_error=False keeps level M (as specified) instead of raising it when the data would fit.
    qr = segno.make(url, error="m", micro=False, mask=QR_MASK, boost_error=False)
    image = io.BytesIO()
    qr.save(image, kind="png", scale=1, border=4)
    image.seek(0)
    # One module per pixel, scaled by the PDF: a single small image instead of hundreds of vector rectangles.
    pdf.drawImage(ImageReader(image), x, y, size, size)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if pdfmetrics.stringWidth(candidate, font, size) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def render_notice(application: Application, notice: Notice, verification_url: str) -> bytes:
    """The notice PDF; rendered once at confirmation and stored, so every download is byte-identical."""
    register_fonts()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setTitle(f"Bildiriş № {notice.number}")
    pdf.setAuthor("Dövlət Sosial Müdafiə Fondu")
    pdf.setSubject("Sosial sığorta şəhadətnaməsinin dəyişdirilməsi və ya dublikatının verilməsi")
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 25 * mm

    pdf.setFont(BOLD, 10)
    pdf.drawCentredString(width / 2, y, "ƏMƏK VƏ ƏHALİNİN SOSİAL MÜDAFİƏSİ NAZİRLİYİ YANINDA")
    y -= 5 * mm
    pdf.drawCentredString(width / 2, y, "DÖVLƏT SOSİAL MÜDAFİƏ FONDU")
    y -= 14 * mm
    pdf.setFont(BOLD, 18)
    pdf.drawCentredString(width / 2, y, "BİLDİRİŞ")
    y -= 8 * mm
    pdf.setFont(REGULAR, 11)
    issued = local(notice.issued_at)
    pdf.drawCentredString(width / 2, y, f"№ {notice.number}        tarix {issued:%d.%m.%Y}")
    y -= 10 * mm
    pdf.setFont(REGULAR, 10)
    intro = ("Dövlət sosial sığorta şəhadətnaməsinin dəyişdirilməsi və ya dublikatının verilməsi üçün müraciət "
             "informasiya sistemində qeydiyyata alınmışdır.")
    for line in _wrap(intro, REGULAR, 10, right - left):
        pdf.drawString(left, y, line)
        y -= 5 * mm
    y -= 4 * mm

    insurer = application.insurer
    signer = application.signed_by
    if signer is not None:
        method = SIGNATURE_METHODS[signer.kind]
        signed = f"{signer.holder_name} ({method} {signer.public_label})"
    else:
        signed = "DOST mərkəzində qeydiyyata alınıb"
    rows = [
        ("Sığortaedən", insurer.full_name if insurer else "—"),
        ("Sığortaedənin VÖEN-i", insurer.voen if insurer else "—"),
        ("Sığortaolunan", f"{application.surname} {application.name} {application.patronymic}"),
        ("FİN", application.fin),
        ("SSN", application.ssn),
        ("Müraciətin növü", TYPE_TEXT[application.application_type] if application.application_type else "—"),
        ("Müraciətin səbəbi", REASON_TEXT[application.reason] if application.reason else "—"),
        ("Müraciət tarixi", f"{application.application_date:%d.%m.%Y}"),
        ("İcra müddəti (son tarix)", f"{application.deadline:%d.%m.%Y}" if application.deadline else "—"),
        ("İmzalayan", signed),
    ]
    label_width = 55 * mm
    for label, value in rows:
        pdf.setFont(BOLD, 10)
        pdf.drawString(left, y, label)
        pdf.setFont(REGULAR, 10)
        lines = _wrap(value, REGULAR, 10, right - left - label_width)
        for line in lines:
            pdf.drawString(left + label_width, y, line)
            y -= 5 * mm
        pdf.setStrokeColorRGB(0.8, 0.8, 0.8)
        pdf.line(left, y + 3 * mm, right, y + 3 * mm)
        y -= 2 * mm

    qr_size = 36 * mm
    qr_top = y - 6 * mm
    _draw_qr(pdf, verification_url, left, qr_top - qr_size, qr_size)
    text_x = left + qr_size + 6 * mm
    pdf.setFont(BOLD, 10)
    pdf.drawString(text_x, qr_top - 8 * mm, "Bildirişin həqiqiliyini yoxlayın")
    pdf.setFont(REGULAR, 9)
    for offset, line in enumerate(_wrap(
            "QR kodu telefonun kamerası ilə skan edin və ya bildirişin nömrəsini və yoxlama kodunu "
            "“Sənədlərin yoxlanılması” səhifəsinə daxil edin.", REGULAR, 9, right - text_x)):
        pdf.drawString(text_x, qr_top - (14 + 4.5 * offset) * mm, line)
    pdf.setFont(BOLD, 12)
    pdf.drawString(left, qr_top - qr_size - 6 * mm, f"Yoxlama kodu: {format_code(notice.verification_code)}")
    pdf.setFont(REGULAR, 7)
    pdf.drawString(left, 15 * mm, f"Məzmunun SHA-256: {application.content_sha256 or '—'}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
