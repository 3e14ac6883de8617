"""The core's refusals carry stable keys the dashboard says in the visitor's language (issue 22 point 8): every
key the core raises is in every locale file, and the English every API and the CLI send is unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway_core.adapters.i18n import available
from gateway_core.domain.errors import ValidationFailed, said

ROOT = Path(__file__).resolve().parents[2]
# Keys are literal at each said("…") so this scan finds them all (a computed key would escape it).
KEY = re.compile(r'\bsaid\(\s*"([a-z0-9_]+)"')


def _raised_keys() -> set[str]:
    return {key for path in (ROOT / "gateway_core").rglob("*.py")
            for key in KEY.findall(path.read_text(encoding="utf-8"))}


def test_every_key_the_core_raises_is_in_every_locale_file() -> None:
    keys = {f"dash_core_{key}" for key in _raised_keys()}
    assert len(keys) > 60
    for lang in available():
        strings = json.loads((ROOT / "locales" / f"{lang}.json").read_text(encoding="utf-8"))
        assert keys - set(strings) == set(), lang


def test_no_said_call_in_the_core_computes_its_key() -> None:
    for path in (ROOT / "gateway_core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        calls = len(re.findall(r"\bsaid\(", text)) - len(re.findall(r"\bdef said\(", text))
        assert calls == len(KEY.findall(text)), path


def test_a_keyed_error_still_says_its_english_to_the_apis() -> None:
    exc = ValidationFailed(said("store_invalid_wallet", "Invalid SOL wallet", asset="SOL"),
                           errors={"wallet.SOL": said("d_bad_address", "'x': bad", address="x", problem="bad"),
                                   "name": "plain"})
    assert exc.message == str(exc) == "Invalid SOL wallet"
    assert exc.errors == {"wallet.SOL": "'x': bad", "name": "plain"}
    assert all(type(text) is str for text in exc.errors.values())  # exactly str, as JSON sends it
    assert json.dumps(exc.errors) == '{"wallet.SOL": "\'x\': bad", "name": "plain"}'
    assert exc.said is not None and exc.said.key == "store_invalid_wallet" and exc.said.params == {"asset": "SOL"}
    assert set(exc.details) == {"wallet.SOL"} and exc.details["wallet.SOL"].params["problem"] == "bad"
    assert ValidationFailed("unkeyed").said is None
