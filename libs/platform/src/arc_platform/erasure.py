"""Right to erasure despite immutable events, by crypto-shredding.

Personal data in stored and published events (names, emails, free-text comments about a
student) is encrypted with a key that belongs to one person (AES-256-GCM). The keys live in a
key vault, a database apart from every event store (``ARC_KEYVAULT_URL``). Forgetting a person
deletes their key and leaves a tombstone: the events stay, hash chains stay valid (they hash the
ciphertext), but the personal fields can no longer be read, and nothing new can be written
about that person.

A sealed field is a self-describing string, ``enc:v1:<person_id>:<base64(nonce + ciphertext)>``,
so whoever may read the vault can open it wherever it travels. Person ids themselves stay in
plain text: they are pseudonymous keys, not personal data.

:func:`seal` and :func:`open_sealed` are pure; :class:`KeyVault` keeps the keys;
:class:`PersonalData` is what services use.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from arc_contracts import REMOVED  # what a personal field reads as once its person is forgotten

PREFIX = "enc:v1:"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12


class Forgotten(Exception):
    """Something was to be written about a person who was forgotten (right to erasure)."""

    def __init__(self, person_id: str) -> None:
        super().__init__(
            f"{person_id!r} was forgotten (right to erasure): nothing more is recorded about them"
        )
        self.person_id = person_id


# --- the cipher: pure --------------------------------------------------------------------------


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, person_id: str, text: str) -> str:
    """``text`` encrypted with ``key``; the person id is authenticated with it, so a sealed
    value moved to another person's record does not open."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, text.encode(), person_id.encode())
    return f"{PREFIX}{person_id}:{base64.b64encode(nonce + ciphertext).decode()}"


@dataclass(frozen=True)
class Sealed:
    person_id: str
    blob: bytes


def parse_sealed(value: str) -> Sealed | None:
    """The parts of a sealed value, or None for plain text."""
    if not value.startswith(PREFIX):
        return None
    person_id, _, encoded = value[len(PREFIX) :].rpartition(":")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not person_id or len(blob) <= NONCE_BYTES:
        return None
    return Sealed(person_id, blob)


def open_sealed(key: bytes | None, sealed: Sealed) -> str:
    """The text of a sealed value; :data:`REMOVED` without a key (or with the wrong one)."""
    if key is None:
        return REMOVED
    nonce, ciphertext = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, sealed.person_id.encode()).decode()
    except InvalidTag:
        return REMOVED


# --- the vault ---------------------------------------------------------------------------------

metadata = sa.MetaData()
person_keys = sa.Table(
    "person_keys",
    metadata,
    sa.Column("person_id", sa.String(200), primary_key=True),
    sa.Column("key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
tombstones = sa.Table(
    "forgotten_people",
    metadata,
    sa.Column("person_id", sa.String(200), primary_key=True),
    sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
)


def create_vault_engine(url: str) -> Engine:
    """An engine on the vault database (a SQLite file shared on one machine, or PostgreSQL)."""
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _create_tables(engine: Engine) -> None:
    """Services starting together share one vault: PostgreSQL's CREATE TABLE IF NOT EXISTS
    is not safe against a concurrent one (a unique violation on the type name), so the loser
    looks again once the winner has committed."""
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            return
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if attempt == 2:
                raise
            time.sleep(0.2)


class KeyVault:
    """One key per person, created on first write; deleted (with a tombstone kept) when the
    person is forgotten. A key that exists beside a tombstone (a write racing the forget) is
    never handed out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _create_tables(engine)

    def key_for_writing(self, person_id: str) -> bytes:
        """The person's key, created if they have none; :class:`Forgotten` if forgotten."""
        for _ in range(3):
            with self.engine.begin() as conn:
                if _is_forgotten(conn, person_id):
                    raise Forgotten(person_id)
                found = _key(conn, person_id)
                if found is not None:
                    return found
                key = new_key()
                try:
                    conn.execute(
                        sa.insert(person_keys).values(
                            person_id=person_id, key=key, created_at=datetime.now(UTC)
                        )
                    )
                except IntegrityError:  # another writer created it first: read theirs
                    continue
                return key
        raise RuntimeError(f"could not create a key for {person_id!r}")

    def keys_for_writing(self, person_ids: Iterable[str]) -> dict[str, bytes]:
        """The keys of several people (a class batch) in two queries, created where missing;
        :class:`Forgotten` for the first forgotten among them."""
        wanted = sorted(set(person_ids))
        found: dict[str, bytes] = {}
        for chunk in (wanted[i : i + 500] for i in range(0, len(wanted), 500)):
            with self.engine.connect() as conn:
                rows = conn.execute(_KEYS_AND_TOMBSTONES_AMONG, {"ids": chunk}).all()
            forgotten = sorted(str(row[0]) for row in rows if row[2])
            if forgotten:
                raise Forgotten(forgotten[0])
            found.update((str(row[0]), bytes(row[1])) for row in rows)
        for person_id in wanted:
            if person_id not in found:  # first write about them: created (racing a forget)
                found[person_id] = self.key_for_writing(person_id)
        return found

    def key_for_reading(self, person_id: str) -> bytes | None:
        """The person's key, or None when they were forgotten (or never had one)."""
        with self.engine.connect() as conn:
            if _is_forgotten(conn, person_id):
                return None
            return _key(conn, person_id)

    def forget(self, person_id: str) -> bool:
        """Delete the person's key for good; False if they were already forgotten."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(person_keys).where(person_keys.c.person_id == person_id))
            if _is_forgotten(conn, person_id):
                return False
            conn.execute(
                sa.insert(tombstones).values(person_id=person_id, forgotten_at=datetime.now(UTC))
            )
            return True

    def forgotten_among(self, person_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(person_ids))
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(_TOMBSTONES_AMONG, {"ids": wanted})
            return {str(row[0]) for row in rows}

    def is_forgotten(self, person_id: str) -> bool:
        return bool(self.forgotten_among([person_id]))

    def close(self) -> None:
        self.engine.dispose()


#: Asked on every write and read about a person: built once (building a statement per call
#: cost more than running it, and each left cyclic garbage for the collector).
_TOMBSTONES_AMONG = sa.select(tombstones.c.person_id).where(
    tombstones.c.person_id.in_(sa.bindparam("ids", expanding=True))
)
#: Keys and tombstones in one statement (a row per key, then a row per tombstone, marked):
#: every class batch asks, and one round trip costs less than two.
_KEYS_AND_TOMBSTONES_AMONG = sa.union_all(
    sa.select(person_keys.c.person_id, person_keys.c.key, sa.literal(0).label("forgotten")).where(
        person_keys.c.person_id.in_(sa.bindparam("ids", expanding=True))
    ),
    sa.select(tombstones.c.person_id, sa.cast(sa.null(), sa.LargeBinary), sa.literal(1)).where(
        tombstones.c.person_id.in_(sa.bindparam("ids", expanding=True))
    ),
)
_TOMBSTONE = sa.select(tombstones.c.person_id).where(
    tombstones.c.person_id == sa.bindparam("person_id")
)
_KEY = sa.select(person_keys.c.key).where(person_keys.c.person_id == sa.bindparam("person_id"))


def _is_forgotten(conn: sa.Connection, person_id: str) -> bool:
    return conn.execute(_TOMBSTONE, {"person_id": person_id}).first() is not None


def _key(conn: sa.Connection, person_id: str) -> bytes | None:
    row = conn.execute(_KEY, {"person_id": person_id}).first()
    return bytes(row[0]) if row else None


# --- what services use -------------------------------------------------------------------------


class PersonalData:
    """Seals personal fields before they are recorded and opens them when read.

    Keys read for opening are kept for ``cache_seconds`` (a forget in another process is seen
    within that time; projections also drop what they opened when the forget event arrives).
    Sealing always asks the vault, so nothing is written about a person once forgotten.
    """

    def __init__(self, vault: KeyVault, cache_seconds: float = 5.0) -> None:
        self.vault = vault
        self.cache_seconds = cache_seconds
        self._read_keys: dict[str, tuple[bytes | None, float]] = {}

    def seal(self, person_id: str, text: str | None) -> str | None:
        """``text`` sealed with the person's key (None stays None)."""
        return self.writer(person_id)(text)

    def writer(self, person_id: str) -> PersonSealer:
        """A sealer for several fields of one person (one vault lookup)."""
        return PersonSealer(person_id, self.vault.key_for_writing(person_id))

    def writers(self, person_ids: Iterable[str]) -> dict[str, PersonSealer]:
        """Sealers for several people at once (a class batch: one vault round trip)."""
        keys = self.vault.keys_for_writing(person_ids)
        return {person_id: PersonSealer(person_id, key) for person_id, key in keys.items()}

    def ensure_writable(self, person_ids: Iterable[str]) -> None:
        """:class:`Forgotten` for the first forgotten person among ``person_ids``."""
        forgotten = sorted(self.vault.forgotten_among(person_ids))
        if forgotten:
            raise Forgotten(forgotten[0])

    def open(self, value: str | None) -> str | None:
        """The plain text of a sealed value (:data:`REMOVED` once its person is forgotten);
        plain text (stored before encryption) as it is."""
        if value is None:
            return None
        found = parse_sealed(value)
        if found is None:
            return value
        return open_sealed(self._reading_key(found.person_id), found)

    def is_forgotten(self, person_id: str) -> bool:
        return self.vault.is_forgotten(person_id)

    def forget(self, person_id: str) -> bool:
        self._read_keys.pop(person_id, None)
        return self.vault.forget(person_id)

    def evict(self, person_id: str) -> None:
        """Drop a cached key (a forget event arrived)."""
        self._read_keys.pop(person_id, None)

    def _reading_key(self, person_id: str) -> bytes | None:
        now = time.monotonic()
        cached = self._read_keys.get(person_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = self.vault.key_for_reading(person_id)
        if len(self._read_keys) > 10_000:
            self._read_keys.clear()
        self._read_keys[person_id] = (key, now + self.cache_seconds)
        return key

    def close(self) -> None:
        self.vault.close()


@dataclass(frozen=True)
class PersonSealer:
    person_id: str
    key: bytes

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def text(self, text: str) -> str:
        return seal(self.key, self.person_id, text)


def open_personal_data(url: str, cache_seconds: float = 5.0) -> PersonalData:
    return PersonalData(KeyVault(create_vault_engine(url)), cache_seconds)


__all__ = [
    "REMOVED",
    "Forgotten",
    "KeyVault",
    "PersonSealer",
    "PersonalData",
    "Sealed",
    "create_vault_engine",
    "open_personal_data",
    "open_sealed",
    "parse_sealed",
    "seal",
]
