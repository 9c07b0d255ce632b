"""The catalog's use cases, in one object: see ``arc_catalog.usecases`` for each subject and
``arc_catalog.core`` for the rules every command keeps (check everything, then one save)."""

from __future__ import annotations

from arc_catalog.core import ActorSource, CatalogStore, Saved, Versioned, no_actor
from arc_catalog.domain.errors import InvalidDefinition, NotFound
from arc_catalog.index import CatalogIndex
from arc_catalog.usecases.erasure import ErasureCases
from arc_catalog.usecases.imports import ImportCases, ImportResult
from arc_catalog.usecases.outcomes import FrameworkTree, OutcomeCases
from arc_catalog.usecases.policies import PolicyCases
from arc_catalog.usecases.rosters import RosterCases
from arc_platform.erasure import open_personal_data
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine


class Catalog(OutcomeCases, PolicyCases, RosterCases, ImportCases, ErasureCases):
    """Every catalog command and query."""

    def close(self) -> None:
        self.store.close()
        self.index.view.engine.dispose()
        self.personal.close()


def open_catalog(settings: ServiceSettings, actor: ActorSource = no_actor) -> Catalog:
    """The catalog on the configured store, its index brought up to date; ``actor`` says who
    makes each change (the service: the authenticated caller)."""
    store = open_application(CatalogStore, settings)
    index = CatalogIndex(create_engine(settings), store)
    catalog = Catalog(store, index, open_personal_data(settings.keyvault()), actor)
    catalog.index.catch_up()
    return catalog


__all__ = [
    "ActorSource",
    "Catalog",
    "CatalogStore",
    "FrameworkTree",
    "ImportResult",
    "InvalidDefinition",
    "NotFound",
    "Saved",
    "Versioned",
    "open_catalog",
]
