"""External systems as interfaces: population registry, employment contracts, certificate monitoring,
e-signature providers. The embedded implementations work on the app's own database; a real
integration replaces the factory, never the callers."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine
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


# The signature provider bound to a database engine by its app (dost.demo_idp binds the demo identity provider's
# signing); the demo provider on the app's own tables otherwise.
_signatures: weakref.WeakKeyDictionary[Engine, Callable[[Session], SignatureProvider]] = weakref.WeakKeyDictionary()


def bind_signatures(engine: Engine, factory: Callable[[Session], SignatureProvider]) -> None:
    """Sign through this provider for sessions on this engine."""
    _signatures[engine] = factory


def _embedded(session: Session) -> Registries:
    from dost.registries import embedded

    bind = session.get_bind()
    signatures = _signatures.get(bind.engine if isinstance(bind, Connection) else bind)
    return Registries(
        population=embedded.EmbeddedPopulationRegistry(session),
        employment=embedded.EmbeddedEmploymentRegistry(session),
        monitoring=embedded.EmbeddedCertificateMonitoring(session),
        signatures=signatures(session) if signatures else embedded.DemoSignatureProvider(session),
    )


_factory: Callable[[Session], Registries] = _embedded


def registries_for(session: Session) -> Registries:
    """The adapters bound to a session."""
    return _factory(session)


def use_factory(factory: Callable[[Session], Registries]) -> None:
    """Replace the adapters (a real integration, or a test double)."""
    global _factory
    _factory = factory
