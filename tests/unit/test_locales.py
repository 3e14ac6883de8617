"""Every translation of the payment page and receipt is complete and fills the same placeholders as English."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

LOCALES = Path(__file__).resolve().parents[2] / "locales"
REQUIRED = ("es", "pt-BR", "fr", "de", "it", "tr", "id", "vi", "zh-Hans")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def strings(code: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{code}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_required_languages_are_there() -> None:
    assert set(REQUIRED) <= {path.stem for path in LOCALES.glob("*.json")}


@pytest.mark.parametrize("code", sorted(path.stem for path in LOCALES.glob("*.json") if path.stem != "en"))
def test_a_translation_has_every_key_and_only_englishs_placeholders(code: str) -> None:
    english, translated = strings("en"), strings(code)
    assert set(english) - set(translated) == set(), f"{code} lacks keys"
    assert set(translated) - set(english) == set(), f"{code} has keys English does not"
    assert translated["lang"] == code
    for key, text in english.items():
        theirs = set(PLACEHOLDER.findall(translated[key]))
        assert theirs <= set(PLACEHOLDER.findall(text)), f"{code}.{key} has a placeholder English lacks"
        assert theirs == set(PLACEHOLDER.findall(text)), f"{code}.{key} drops a placeholder"
        assert translated[key].strip(), f"{code}.{key} is empty"
