"""Who is acting: passed explicitly to every service."""

from __future__ import annotations

from dataclasses import dataclass

SEAL_AUTHORITY = "seal"
# The names the system itself acts under, stored in audit rows as written (dost.labels translates them for display).
SYSTEM_LABEL = "sistem"
PUBLIC_LABEL = "ictimai"
DEADLINE_SWEEP_LABEL = "sistem: müddətlərə nəzarət"
# The app's own changes made on the national login's word (a credential registered or brought up to date).
NATIONAL_LOGIN_LABEL = "sistem: milli giriş"


@dataclass(frozen=True)
class Actor:
    """An employer credential acting for an insurer, a staff user, or the system itself."""

    kind: str  # "employer", "staff", "system", "public"
    label: str
    credential_id: int | None = None
    insurer_id: int | None = None
    staff_user_id: int | None = None
    role: str | None = None
    # For employers: "seal" or "grant:<id>" — the authority that allowed the current action.
    authority: str | None = None

    @classmethod
    def system(cls, label: str = SYSTEM_LABEL) -> Actor:
        return cls(kind="system", label=label, role="system")

    @classmethod
    def public(cls) -> Actor:
        return cls(kind="public", label=PUBLIC_LABEL, role="public")

    def with_authority(self, authority: str) -> Actor:
        """The same actor, acting under the given authority."""
        return Actor(
            kind=self.kind,
            label=self.label,
            credential_id=self.credential_id,
            insurer_id=self.insurer_id,
            staff_user_id=self.staff_user_id,
            role=self.role,
            authority=authority,
        )
