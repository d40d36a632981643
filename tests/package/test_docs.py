"""The design documents ship with the package and keep up with the code.

Each name the documents must mention is collected from the code itself (the pandera models, the
cross-table rules, the validator's and parser's rule names, the fields of ``Definitions``, the
reference CSV files), and each collection is checked to be non-empty, so a test cannot pass
because it looked at nothing.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import toh.docs
from toh.cohort.definitions import Definitions
from toh.schemas import CROSS_TABLE_RULES, SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "analyses" / "reference"


def _mentions(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as code, in backticks (a bare word such as ``type`` or
    ``confidence`` would be found in any English text)."""
    return f"`{name}`" in text


def _schema_check_names() -> set[str]:
    """Names of the custom checks of every pandera model (built-in ``isin``, ``ge``... excluded:
    the validator renames those, see :func:`_validator_rule_names`)."""
    names = set()
    for model in SCHEMAS.values():
        schema = model.to_schema()
        checks = list(schema.checks) + [c for column in schema.columns.values() for c in column.checks]
        names |= {c.name for c in checks if c.description}  # custom checks carry their docstring
    return names


def _string_args(tree: ast.AST, function: str, position: int) -> set[str]:
    """String constants passed as argument ``position`` of calls to ``function``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == function and len(node.args) > position:
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                found.add(arg.value)
    return found


def _validator_rule_names() -> set[str]:
    """Rule names the validator and the parser write into failure records: the renamed pandera
    checks, ``unique``, ``table_present`` and the parser's structure and type rules."""
    from toh.cohort.validate import _PANDERA_RULES

    names = {name for _, name, _ in _PANDERA_RULES}
    parse = ast.parse((ROOT / "cohort" / "parse.py").read_text(encoding="utf-8"))
    names |= _string_args(parse, "_issue", 2)
    validate = ast.parse((ROOT / "cohort" / "validate.py").read_text(encoding="utf-8"))
    for node in [*ast.walk(validate), *ast.walk(parse)]:  # {"rule": [...]} / {"rule": "..."}, (row, column, "unique", message)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "rule" and isinstance(value, ast.List):
                    names |= {e.value for e in value.elts if isinstance(e, ast.Constant)}
                if isinstance(key, ast.Constant) and key.value == "rule" and isinstance(value, ast.Constant):
                    names.add(value.value)
        if isinstance(node, ast.Tuple) and len(node.elts) == 4 and isinstance(node.elts[2], ast.Constant):
            if isinstance(node.elts[2].value, str):
                names.add(node.elts[2].value)
    return names


RULES = sorted(_schema_check_names() | set(CROSS_TABLE_RULES) | _validator_rule_names())
FIELDS = sorted(f.name for f in dataclasses.fields(Definitions))
REFERENCE_FILES = sorted(p.name for p in REFERENCE.glob("*.csv"))


def test_every_document_is_readable_from_the_installed_package() -> None:
    assert toh.docs.DOCUMENTS
    for name in toh.docs.DOCUMENTS:
        text = toh.docs.read(name)
        assert text.startswith("# "), name
        assert len(text) > 2000, name
    with pytest.raises(ValueError):
        toh.docs.read("DESIGN.md")


def test_the_collections_are_not_empty() -> None:
    # each source must give something, or the checks below would pass on nothing
    assert len(_schema_check_names()) >= 9 and "not_in_future" in _schema_check_names()
    assert len(CROSS_TABLE_RULES) >= 9
    assert {"code_list", "required_value", "unique", "range", "table_present", "column_missing",
            "extra_column", "date_format", "integer", "boolean"} <= _validator_rule_names()
    assert len(FIELDS) >= 8
    assert len(REFERENCE_FILES) >= 10


def test_the_mention_check_can_fail() -> None:
    assert _mentions("rule `birth_known` here", "birth_known")
    assert not _mentions("rule `birth_known_x` here", "birth_known")
    assert not _mentions("the type of a cell", "type")
    assert not _mentions(toh.docs.read("contract.md"), "no_such_rule")


@pytest.mark.parametrize("rule", RULES)
def test_every_validation_rule_is_in_the_contract(rule: str) -> None:
    assert _mentions(toh.docs.read("contract.md"), rule)


@pytest.mark.parametrize("field", FIELDS)
def test_every_definitions_field_is_in_the_definitions(field: str) -> None:
    assert _mentions(toh.docs.read("definitions.md"), field)


@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_every_reference_csv_is_in_the_r_conventions(name: str) -> None:
    assert _mentions(toh.docs.read("r-conventions.md"), name)
