"""Display labels of the domain's enumerations, in one place so every page names things the same way."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from dost.i18n import text
from dost.models import (
    ApplicationReason,
    ApplicationStatus,
    ApplicationType,
    CertificateStatus,
    Channel,
    DocumentType,
    RefusalGround,
)
from dost.services.actors import DEADLINE_SWEEP_LABEL, NATIONAL_LOGIN_LABEL, PUBLIC_LABEL, SYSTEM_LABEL

APPLICATION_TYPE = {ApplicationType.CHANGE: _l("Dəyişdirilmə"), ApplicationType.DUPLICATE: _l("Dublikat")}

# The manual's four reasons, verbatim.
APPLICATION_REASON = {
    ApplicationReason.DOCUMENT_CHANGED: _l("Şəxsiyyəti təsdiq edən sənəddəki dəyişiklik"),
    ApplicationReason.LOST: _l("Dövlət sosial sığorta şəhadətnaməsinin itirilməsi"),
    ApplicationReason.DATA_ERROR: _l(
        "Dövlət sosial sığorta şəhadətnaməsində yazılan məlumatlarda yanlışlıq və ya səhv aşkar edilməsi"),
    ApplicationReason.DAMAGED: _l("Dövlət sosial sığorta şəhadətnaməsinin yararsız hala düşməsi"),
}

APPLICATION_STATUS = {
    ApplicationStatus.DRAFT: _l("Qaralama"),
    ApplicationStatus.SUBMITTED: _l("Təsdiqlənib (icraya göndərilib)"),
    ApplicationStatus.VERIFIED: _l("Yoxlanılıb"),
    ApplicationStatus.ORDERED: _l("Şəhadətnamə sifariş edilib"),
    ApplicationStatus.READY: _l("Hazırdır, təhvil verilməyi gözləyir"),
    ApplicationStatus.DELIVERED: _l("Təhvil verilib"),
    ApplicationStatus.REFUSED: _l("İmtina edilib"),
}
# Status is never told by colour alone: each has an icon and a badge style.
APPLICATION_STATUS_ICON = {
    ApplicationStatus.DRAFT: ("info", "✎"),
    ApplicationStatus.SUBMITTED: ("info", "➜"),
    ApplicationStatus.VERIFIED: ("info", "✓"),
    ApplicationStatus.ORDERED: ("warn", "⚙"),
    ApplicationStatus.READY: ("ok", "★"),
    ApplicationStatus.DELIVERED: ("ok", "✔"),
    ApplicationStatus.REFUSED: ("err", "✖"),
}

CERTIFICATE_STATUS = {
    CertificateStatus.ACTIVE: _l("Qüvvədədir"),
    CertificateStatus.REPLACED: _l("Əvəz edilib"),
    CertificateStatus.ORDERED: _l("Sifariş edilib"),
    CertificateStatus.CANCELLED: _l("Sifarişi ləğv edilib"),
}

DOCUMENT_TYPE = {DocumentType.ID_CARD: _l("DİN"), DocumentType.MIGRATION: _l("Miqrasiya sənədi")}

REFUSAL_GROUND = {
    RefusalGround.INCOMPLETE_DOCUMENTS: _l("Sənədlərin natamamlığı"),
    RefusalGround.NO_LEGAL_BASIS: _l("Hüquqi əsası yoxdur"),
}

CHANNEL = {Channel.ONLINE: _l("Onlayn (e-imza ilə)"), Channel.WALK_IN: _l("DOST mərkəzində")}


def resolved(mapping: dict) -> dict:
    """A label mapping translated now, into the current request's language (for pages that show it per row)."""
    return {key: text(label) for key, label in mapping.items()}


# The names the system itself acts under, stored as written (audit rows never change) and shown in the reader's
# language; people's names are shown as stored.
SYSTEM_ACTOR = {
    SYSTEM_LABEL: _l("sistem"),
    DEADLINE_SWEEP_LABEL: _l("sistem: müddətlərə nəzarət"),
    NATIONAL_LOGIN_LABEL: _l("sistem: milli giriş"),
    PUBLIC_LABEL: _l("ictimai"),
}


def actor_label(stored: str | None) -> str:
    """Who did it, for display: the system's own labels in the reader's language, anyone else's name as stored."""
    message = SYSTEM_ACTOR.get(stored or "")
    return text(message) if message is not None else (stored or "")
