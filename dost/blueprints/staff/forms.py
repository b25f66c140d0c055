"""Forms of the staff back office; the services check the rules, the forms only parse."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, PasswordField, RadioField, SelectChoice, SelectField, StringField, TextAreaField

from dost import labels
from dost.models import BackOffice, StaffRole
from dost.services import processing
from dost.services.deadlines import SLA_DUE_SOON, SLA_ON_TRACK, SLA_OVERDUE


class SignInForm(FlaskForm):
    username = StringField(_l("İstifadəçi adı"))
    password = PasswordField(_l("Şifrə"))
    code = StringField(_l("Təsdiq kodu (autentifikator tətbiqindən)"))


class QueueFilterForm(FlaskForm):
    """GET filters of the work queue (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=[], default="open")
    application_type = SelectField(_l("Müraciətin növü"), choices=[], default="")
    sla = SelectField(_l("Müddət"), choices=[], default="")
    insurer_id = SelectField(_l("Sığortaedən"), choices=[], default="")
    sort = SelectField(_l("Sıralama"), choices=[], default="deadline")

    def fill_choices(self, insurers) -> None:
        self.status.choices = [SelectChoice("open", _l("İcrada olanlar")), SelectChoice("all", _l("Hamısı"))] + [
            SelectChoice(status.value, label) for status, label in processing.STATUS_LABELS.items()
            if status.value != "draft"
        ]
        self.application_type.choices = [SelectChoice("", _l("Hamısı"))] + [
            SelectChoice(kind.value, label) for kind, label in processing.TYPE_LABELS.items()
        ]
        self.sla.choices = [SelectChoice("", _l("Hamısı"))] + [
            SelectChoice(state, processing.SLA_LABELS[state]) for state in (SLA_OVERDUE, SLA_DUE_SOON, SLA_ON_TRACK)
        ]
        self.insurer_id.choices = [SelectChoice("", _l("Hamısı"))] + [
            SelectChoice(str(item.id), item.full_name) for item in insurers
        ]
        self.sort.choices = [SelectChoice("deadline", _l("Son müddət: əvvəlcə yaxın")),
                             SelectChoice("-deadline", _l("Son müddət: əvvəlcə uzaq"))]

    def value(self, field: SelectField) -> str:
        """The chosen value when it is one of the choices, else the default (bad query strings are ignored)."""
        allowed = {choice.value for choice in field.choices}
        return field.data if field.data in allowed else (field.default or "")


class ActionForm(FlaskForm):
    version = HiddenField()


class RefuseForm(FlaskForm):
    version = HiddenField()
    ground = SelectField(_l("İmtina əsası"), choices=[])
    comment = TextAreaField(_l("Şərh (sığortaedən görəcək)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ground.choices = [SelectChoice("", _l("— seçin —"))] + [
            SelectChoice(ground.value, label) for ground, label in processing.GROUND_LABELS.items()
        ]
        # Any value reaches the service, which explains what is wrong beside the field.
        self.ground.validate_choice = False


class NewStaffForm(FlaskForm):
    username = StringField(_l("İstifadəçi adı"))
    full_name = StringField(_l("Soyadı, adı, atasının adı"))
    role = SelectField(_l("Rol"), choices=[])
    password = PasswordField(_l("İlkin şifrə (ən azı 12 simvol)"))
    centre_id = SelectField(_l("DOST mərkəzi (sosial agent üçün)"), choices=[])
    back_office = SelectField(_l("Arxa ofis (arxa ofis əməkdaşı üçün)"), choices=[])
    region = SelectField(_l("Region (nəzarətçi üçün)"), choices=[])

    def fill_choices(self, centres, regions) -> None:
        empty = SelectChoice("", _l("— seçin —"))
        self.role.choices = [empty] + [SelectChoice(r.value, processing.ROLE_LABELS[r]) for r in StaffRole]
        self.centre_id.choices = [empty] + [SelectChoice(str(c.id), c.name) for c in centres]
        self.back_office.choices = [empty] + [
            SelectChoice(office.value, processing.BACK_OFFICE_LABELS[office]) for office in BackOffice
        ]
        self.region.choices = [empty] + [SelectChoice(region, region) for region in regions]
        for field in (self.role, self.centre_id, self.back_office, self.region):
            field.validate_choice = False


class NonWorkingDayForm(FlaskForm):
    day = StringField(_l("Tarix"), render_kw={"type": "date"})
    description = StringField(_l("Səbəb (məsələn, Novruz bayramı ilə əlaqədar qeyri-iş günü)"))


class SettingsForm(FlaskForm):
    total_days = StringField(_l("Xidmətin ümumi müddəti (gün)"), render_kw={"inputmode": "numeric"})
    front_office_days = StringField(_l("Ön ofis müddəti (gün)"), render_kw={"inputmode": "numeric"})
    back_office_days = StringField(_l("Arxa ofis müddəti (gün)"), render_kw={"inputmode": "numeric"})
    unit = RadioField(_l("Günlər necə hesablanır"), choices=[
        SelectChoice("calendar", _l("Təqvim günləri")),
        SelectChoice("working", _l("İş günləri (həftə sonu, bayram və qeyri-iş günləri sayılmır)")),
    ], default="calendar", validate_choice=False)


class ReportForm(FlaskForm):
    """GET parameters of the reports (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    start = StringField(_l("Dövrün başlanğıcı"), render_kw={"type": "date"})
    end = StringField(_l("Dövrün sonu"), render_kw={"type": "date"})
    group_by = SelectField(_l("Qruplaşdırma"), choices=[SelectChoice("centre", _l("DOST mərkəzləri üzrə")),
                                                       SelectChoice("back_office", _l("Arxa ofislər üzrə"))],
                           default="centre", validate_choice=False)
    centre_id = SelectField(_l("DOST mərkəzi"), choices=[], default="", validate_choice=False)


DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def parse_date(field: Field, required_message=None) -> date | None:
    """A date typed as yyyy-mm-dd (date picker) or dd.mm.yyyy; a message beside the field otherwise."""
    text = (field.data or "").strip()
    if not text:
        if required_message:
            field.errors = [*field.errors, str(required_message)]
        return None
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    field.errors = [*field.errors, str(_l("Tarixi gg.aa.iiii formatında daxil edin."))]
    return None


def parse_int(field: Field) -> int | None:
    """A whole number, or None with a message beside the field (empty is left to the service)."""
    text = (field.data or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,4}", text):
        field.errors = [*field.errors, str(_l("Tam ədəd daxil edin."))]
        return None
    return int(text)


def parse_version(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"\d{1,9}", text) else None


REASON_LABELS = labels.APPLICATION_REASON
DOCUMENT_LABELS = labels.DOCUMENT_TYPE
IN_PERSON = "in_person"
REPRESENTATIVE = "representative"


class WalkInForm(FlaskForm):
    """An application received at the centre (the passport's item 6: in person or through a representative)."""

    mode = RadioField(_l("Müraciətin forması"), choices=[
        SelectChoice(IN_PERSON, _l("Şəxsən")),
        SelectChoice(REPRESENTATIVE, _l("Nümayəndə vasitəsi ilə (Etibarnamə və ya qəyyum (himayəçi) olmasını "
                                        "təsdiq edən sənədin surəti)")),
    ], default=IN_PERSON, validate_choice=False)
    document_type = SelectField(_l("Sənədin tipi"), choices=[
        SelectChoice(kind.value, label) for kind, label in DOCUMENT_LABELS.items()], validate_choice=False)
    fin = StringField(_l("FİN"))
    ssn = StringField(_l("SSN"))
    voen = StringField(_l("İşəgötürənin VÖEN-i (yalnız işəgötürən adından müraciət edildikdə)"))
    reason = RadioField(_l("Müraciətin səbəbi"), choices=[
        SelectChoice(reason.value, label) for reason, label in REASON_LABELS.items()], validate_choice=False)
    representative_name = StringField(_l("Nümayəndənin soyadı, adı, atasının adı"))
    representative_fin = StringField(_l("Nümayəndənin FİN-i"))
    representative_document = StringField(
        _l("Etibarnamə və ya qəyyumluq (himayəçilik) sənədi: növü, nömrəsi, tarixi, kim tərəfindən verilib"))
