"""Crypto-shredding's pure parts: a sealed field opens with its person's key only, names the
person it belongs to, and reads as removed once the key is gone."""

from __future__ import annotations

import pytest

from arc_platform.erasure import REMOVED, new_key, open_sealed, parse_sealed, seal


def test_a_sealed_field_opens_with_its_persons_key() -> None:
    key = new_key()

    sealed = seal(key, "s-rosa", "Rosa Parks")
    found = parse_sealed(sealed)

    assert "Rosa" not in sealed
    assert sealed.startswith("enc:v1:s-rosa:")
    assert found is not None and found.person_id == "s-rosa"
    assert open_sealed(key, found) == "Rosa Parks"


def test_the_same_text_seals_differently_each_time() -> None:
    key = new_key()

    assert seal(key, "s-rosa", "Rosa") != seal(key, "s-rosa", "Rosa")


def test_without_the_key_a_field_reads_as_removed() -> None:
    found = parse_sealed(seal(new_key(), "s-rosa", "Rosa"))
    assert found is not None

    assert open_sealed(None, found) == REMOVED
    assert open_sealed(new_key(), found) == REMOVED


def test_a_field_moved_to_another_person_does_not_open() -> None:
    key = new_key()
    sealed = seal(key, "s-rosa", "Rosa")
    moved = parse_sealed(sealed.replace("s-rosa", "s-ben", 1))
    assert moved is not None

    assert open_sealed(key, moved) == REMOVED


@pytest.mark.parametrize(
    "plain", ["Rosa", "", "enc:v1:", "enc:v1:s-rosa:not base64!", "enc:v1::QUJD", "enc:v1:s:QQ=="]
)
def test_plain_text_is_not_taken_for_a_sealed_field(plain: str) -> None:
    assert parse_sealed(plain) is None


def test_ids_with_colons_survive_sealing() -> None:
    key = new_key()
    found = parse_sealed(seal(key, "urn:school:42", "Ada"))

    assert found is not None and found.person_id == "urn:school:42"
    assert open_sealed(key, found) == "Ada"
