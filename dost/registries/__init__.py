"""External systems as interfaces: population registry, employment contracts, certificate monitoring,
e-signature providers. The embedded implementations work on the app's own database; a real
integration replaces the factory, never the callers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dost.registries.interfaces import (
    CertificateMonitoring,
    EmploymentRegistry,
    PopulationRegistry,
    SignatureProvider,
)


@dataclass(frozen=True)
class Registries:
    population: PopulationRegistry
    employment: EmploymentRegistry
    monitoring: CertificateMonitoring
    signatures: SignatureProvider


def _embedded(session: Session) -> Registries:
    from dost.registries import embedded

    return Registries(
        population=embedded.EmbeddedPopulationRegistry(session),
        employment=embedded.EmbeddedEmploymentRegistry(session),
        monitoring=embedded.EmbeddedCertificateMonitoring(session),
        signatures=embedded.DemoSignatureProvider(session),
    )


_factory: Callable[[Session], Registries] = _embedded


def registries_for(session: Session) -> Registries:
    """The adapters bound to a session."""
    return _factory(session)


def use_factory(factory: Callable[[Session], Registries]) -> None:
    """Replace the adapters (a real integration, or a test double)."""
    global _factory
    _factory = factory
