"""The key vault on a real database: one key per person, created on first write, gone for good
once the person is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from arc_platform.erasure import REMOVED, Forgotten, open_personal_data


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def vault_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keyvault.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_what_one_process_seals_another_opens_until_the_person_is_forgotten(
    vault_url: str,
) -> None:
    catalog = open_personal_data(vault_url)
    reporting = open_personal_data(vault_url, cache_seconds=0)

    sealed = catalog.seal("s-rosa", "Rosa")
    assert reporting.open(sealed) == "Rosa"

    assert catalog.forget("s-rosa") is True
    assert reporting.open(sealed) == REMOVED
    assert catalog.open(sealed) == REMOVED
    assert catalog.forget("s-rosa") is False  # already forgotten: nothing changes
    catalog.close()
    reporting.close()


def test_nothing_is_sealed_for_a_forgotten_person_and_no_key_comes_back(vault_url: str) -> None:
    personal = open_personal_data(vault_url)
    personal.seal("s-ben", "Ben")
    personal.forget("s-ben")

    with pytest.raises(Forgotten, match="s-ben"):
        personal.seal("s-ben", "Ben again")
    with pytest.raises(Forgotten, match="s-ben"):
        personal.ensure_writable(["s-ada", "s-ben"])
    assert personal.vault.key_for_reading("s-ben") is None
    personal.ensure_writable(["s-ada"])  # others are unaffected
    personal.close()


def test_plain_text_and_none_pass_through_unchanged(vault_url: str) -> None:
    personal = open_personal_data(vault_url)

    assert personal.open("stored before encryption") == "stored before encryption"
    assert personal.open(None) is None
    assert personal.seal("s-ada", None) is None
    personal.close()


def test_looking_keys_up_for_a_class_leaves_no_cyclic_garbage(vault_url: str) -> None:
    """Every write looks its students' keys up: the lookups are built once, so a busy service
    does not hand the collector (whose pauses are the latency's tail) objects to trace."""
    import gc

    personal = open_personal_data(vault_url)
    students = [f"s-{n}" for n in range(35)]
    personal.writers(students)  # keys created; connections and compiled statements warm
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            assert set(personal.writers(students)) == set(students)
            personal.ensure_writable(students)
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        personal.close()
    assert left == []


def test_a_class_batch_gets_every_key_at_once_and_none_beside_a_tombstone(
    vault_url: str,
) -> None:
    personal = open_personal_data(vault_url)
    vault = personal.vault
    known = vault.key_for_writing("s-ada")
    keys = vault.keys_for_writing(["s-cy", "s-ada", "s-bo", "s-ada"])
    assert sorted(keys) == ["s-ada", "s-bo", "s-cy"]
    assert keys["s-ada"] == known  # an existing key, not a new one
    assert keys["s-bo"] != keys["s-cy"]
    assert vault.keys_for_writing(["s-bo", "s-cy"]) == {k: keys[k] for k in ("s-bo", "s-cy")}
    vault.forget("s-cy")
    vault.forget("s-bo")
    with pytest.raises(Forgotten, match="s-bo"):  # the first forgotten, by id
        vault.keys_for_writing(["s-ada", "s-cy", "s-bo"])
    assert vault.keys_for_writing(["s-ada"]) == {"s-ada": known}
    personal.close()
