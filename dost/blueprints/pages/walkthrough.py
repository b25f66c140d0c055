"""Video təlimat: the main employer journey step by step, shown with the browser suite's screenshots
(`make screenshots` regenerates them into dost/static/walkthrough/)."""

from __future__ import annotations

import struct
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dost.blueprints.common import render
from dost.blueprints.pages.views import bp

# (screenshot name, title, what the person does there), in the order of the journey.
STEPS = [
    ("01-sign-in", _l("Xidmətə giriş"),
     _l("«Milli giriş sistemi ilə daxil olmaq» düyməsi milli giriş səhifəsini açır: orada RYTN e-İmza kartının "
        "nömrəsini və PIN kodu daxil edin və ya «Asan imza ilə daxil olmaq» bölməsini seçin.")),
    ("02-asan-wait", _l("Asan İmza ilə giriş"),
     _l("Ekrandakı yoxlama kodu telefondakı kodla eyni olmalıdır. Sorğunu telefonda təsdiqləyin: səhifə özü "
        "davam edəcək.")),
    ("03-insurer", _l("Sığortaedənin məlumatları"),
     _l("Girişdən sonra sığortaedənin məlumatları göstərilir. Müraciət üçün üçüncü bölməni açın.")),
    ("04-wizard-dsmf", _l("QEYDİYYAT: DSMF məlumatları"),
     _l("«QEYDİYYAT» yeni müraciəti açır. DSMF məlumatlarını yoxlayın və «NÖVBƏTİ» düyməsini sıxın.")),
    ("05-wizard-identity", _l("Vəsiqə məlumatları"),
     _l("Sənədin tipini, FİN və SSN-i daxil edib «AXTAR» düyməsini sıxın: şəxsin məlumatları əhali reyestrindən "
        "doldurulur. Sonra «NÖVBƏTİ».")),
    ("06-wizard-reason", _l("Müraciət səbəbi"),
     _l("Dörd səbəbdən birini seçin. «Yadda saxla» qaralamanı reyestrdə saxlayır, «Təsdiqlə» imzalamaya keçir.")),
    ("07-registry-search", _l("REYESTR və Axtarış"),
     _l("Qaralama reyestrdə görünür. «Axtarış» ilə istənilən sütun üzrə axtarın, sətri seçin və «ƏMƏLİYYATLAR» "
        "siyahısından əməliyyatı seçin.")),
    ("08-sign", _l("Təsdiqlə"),
     _l("Müraciəti e-imzanızla imzalayın: kartın PIN kodu ilə və ya Asan İmza ilə telefonda.")),
    ("09-detail", _l("Ətraflı baxış"),
     _l("Təsdiqlənmiş müraciətə qeydiyyat nömrəsi verilir; statusların tarixçəsi burada görünür.")),
    ("10-notice", _l("Bildiriş"),
     _l("«Bildirişi yüklə» nömrəsi və QR kodu olan bildirişi PDF faylı kimi verir.")),
    ("11-verify-phone", _l("Bildirişin yoxlanılması"),
     _l("QR kodu telefonla oxuyan hər kəs bildirişin həqiqi və qüvvədə olduğunu görür.")),
    ("12-grant", _l("Səlahiyyətlərin verilməsi"),
     _l("Möhür səlahiyyəti olan şəxs başqa e-imzaya xidmətdən istifadə səlahiyyəti verə bilər.")),
]


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the PNG header, so the page reserves the space before the image arrives."""
    header = path.read_bytes()[:24] if path.exists() else b""
    if len(header) < 24 or header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", header[16:24])


@bp.get("/video")
def video():
    """Video təlimat: the employer's journey as numbered screenshots with what to do at each step."""
    folder = Path(current_app.static_folder) / "walkthrough"
    steps = []
    for name, title, text in STEPS:
        size = _png_size(folder / f"{name}.png")
        if size:
            steps.append({"name": name, "title": title, "text": text, "width": size[0], "height": size[1]})
    return render("pages/video.html", steps=steps, title=_("Video təlimat"))
