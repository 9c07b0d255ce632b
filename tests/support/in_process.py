"""Each service's real HTTP application in-process, on its own store in a temporary folder
(SQLite), behind the real access guard trusting a dev issuer started here. ``position()`` is how
far the service's store has been written: a refused request must leave it where it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from arc_platform.auth import Access, AccessGuard, AccessLog, RelationshipsView
from arc_platform.auth.dev_issuer import DemoUser, DevIssuerServer
from arc_platform.auth.tokens import TokenSettings, TokenVerifier
from arc_platform.limits import Limits

SERVICES = ("catalog", "evidence", "mastery", "reporting")


@dataclass
class InProcess:
    """One service's app, its store's position, and tokens from the dev issuer."""

    name: str
    app: FastAPI
    position: Callable[[], object]
    issuer: DevIssuerServer
    access: Access
    #: The application behind the API (the store, or reporting's read model).
    backend: Any = None

    def headers(self, user: str | DemoUser = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issuer.token(user)}"}


def _access(issuer: DevIssuerServer, engine: sa.Engine, relationships: Any = None) -> Access:
    settings = TokenSettings(issuer=issuer.url, audience="arc", jwks_url=f"{issuer.url}/jwks.json")
    log = AccessLog(engine)
    relationships = relationships or RelationshipsView(engine)
    return Access(AccessGuard(TokenVerifier(settings), relationships, log), relationships, log)


def _stored(recorder: Any) -> Callable[[], object]:
    return lambda: recorder.max_notification_id() or 0


def _catalog(folder: Path, issuer: DevIssuerServer, limits: Limits, done: ExitStack) -> InProcess:
    from arc_catalog.__main__ import CatalogSettings, request_actor
    from arc_catalog.access import CatalogRelationships
    from arc_catalog.application import open_catalog
    from arc_catalog.http_api import create_app

    catalog = open_catalog(CatalogSettings(data_dir=folder), request_actor)
    done.callback(catalog.close)
    engine = sa.create_engine(f"sqlite:///{folder / 'access.sqlite'}")
    access = _access(issuer, engine, CatalogRelationships(catalog.index))
    app = create_app(catalog, access, limits=limits)
    return InProcess("catalog", app, _stored(catalog.store.recorder), issuer, access, catalog)


def _evidence(folder: Path, issuer: DevIssuerServer, limits: Limits, done: ExitStack) -> InProcess:
    from arc_evidence.__main__ import EvidenceSettings, open_store, request_actor
    from arc_evidence.http_api import create_app
    from tests.support.evidence import FakeCatalog

    known = FakeCatalog()
    known.define("sci.1")
    # what the catalog told it: one outcome
    evidence = open_store(EvidenceSettings(data_dir=folder), known, request_actor)  # type: ignore[arg-type]
    done.callback(evidence.close)
    access = _access(issuer, sa.create_engine(f"sqlite:///{folder / 'access.sqlite'}"))
    app = create_app(evidence, access, lambda: None, limits=limits)
    return InProcess("evidence", app, _stored(evidence.recorder), issuer, access, evidence)


def _mastery(folder: Path, issuer: DevIssuerServer, limits: Limits, done: ExitStack) -> InProcess:
    from arc_mastery.application import MasteryApplication
    from arc_mastery.http_api import create_app

    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "m.db")}
    mastery = MasteryApplication(env=env)
    done.callback(mastery.close)
    access = _access(issuer, sa.create_engine(f"sqlite:///{folder / 'access.sqlite'}"))
    app = create_app(mastery, access, limits=limits)
    return InProcess("mastery", app, _stored(mastery.recorder), issuer, access, mastery)


def _reporting(folder: Path, issuer: DevIssuerServer, limits: Limits, done: ExitStack) -> InProcess:
    from arc_reporting.http_api import create_app
    from arc_reporting.read_model import ReportingReadModel
    from tests.support.reporting import riverside

    model = ReportingReadModel(sa.create_engine(f"sqlite:///{folder / 'views.sqlite'}"))
    story = riverside(model)
    access = _access(issuer, model.engine)
    assert isinstance(access.relationships, RelationshipsView)
    story.tell(access.relationships)
    app = create_app(model, access, limits=limits)
    return InProcess("reporting", app, model.view.positions, issuer, access, model)


BUILDERS = {
    "catalog": _catalog,
    "evidence": _evidence,
    "mastery": _mastery,
    "reporting": _reporting,
}


@contextmanager
def in_process(name: str, folder: Path, limits: Limits | None = None) -> Iterator[InProcess]:
    """The service ``name``'s HTTP app on a store in ``folder`` (closed on leaving)."""
    with ExitStack() as done:
        issuer = DevIssuerServer(folder / "keys").start()
        done.callback(issuer.stop)
        (folder / "data").mkdir(parents=True, exist_ok=True)
        yield BUILDERS[name](folder / "data", issuer, limits or Limits(), done)
