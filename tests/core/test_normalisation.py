"""Normalisation: the same value in another spelling normalises to the same text, so nothing is re-sent for it."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syncer.config.sync import FieldSpec
from syncer.core.fields import field_sql
from syncer.planning.render import register_functions
from syncer.state.workspace import discard_workspace, prepare_workspace


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    directory = prepare_workspace(connection, "256MB", Path(tmp_path_factory.mktemp("spill")))
    register_functions(connection)
    yield connection
    connection.close()
    discard_workspace(directory)


def normalise(
    con: duckdb.DuckDBPyConnection, spec: Mapping[str, object], value: object, column_type: str = "VARCHAR"
) -> tuple[str | None, str | None]:
    sql = field_sql("f", FieldSpec.model_validate(spec), {"v": column_type})
    relation = f"(SELECT CAST(? AS {column_type}) AS v) AS model"
    if sql.prepare:  # a template renders in a projection of its own, as the planner's values pass does
        relation = f'(SELECT model.*, {sql.prepare[1]} AS "{sql.prepare[0]}" FROM {relation}) AS model'
    row = con.execute(f"SELECT {sql.value}, {sql.error} FROM {relation}", [value]).fetchall()[0]
    return row[0], row[1]


@settings(max_examples=150, deadline=None)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False))
def test_numbers_in_any_spelling_normalise_alike(con: duckdb.DuckDBPyConnection, number: Decimal) -> None:
    spec = {"source": "v", "type": "number"}
    plain = normalise(con, spec, format(number, "f"))
    assert plain[1] is None
    assert normalise(con, spec, format(number, "f") + "000") == plain  # trailing zeros
    assert normalise(con, spec, float(number), "DOUBLE") == plain  # a double instead of text
    assert normalise(con, spec, number, "DECIMAL(18,4)") == plain  # a decimal column
    if number == number.to_integral_value():
        assert plain[0] == str(int(number))  # 1, 1.0 and 1.00 are all 1


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),  # noqa: DTZ001 (naive values)
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_the_same_instant_in_any_offset_normalises_alike(
    con: duckdb.DuckDBPyConnection, moment: datetime, offset_minutes: int
) -> None:
    moment = moment.replace(microsecond=0)
    spec = {"source": "v", "type": "datetime"}
    utc_text = normalise(con, spec, moment.isoformat() + "+00:00")
    shifted = moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert normalise(con, spec, shifted.isoformat()) == utc_text
    assert utc_text[0] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.integers(), st.text(max_size=10), st.booleans(), st.none()),
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_json_key_order_and_spacing_do_not_matter(
    con: duckdb.DuckDBPyConnection, data: dict[str, object], shuffle: random.Random
) -> None:
    spec = {"source": "v", "type": "json"}
    items = list(data.items())
    shuffle.shuffle(items)
    compact = normalise(con, spec, json.dumps(data, separators=(",", ":")))
    assert normalise(con, spec, json.dumps(dict(items), indent=2)) == compact
    assert compact[0] is not None and json.loads(compact[0]) == data


@pytest.mark.parametrize(
    ("column_type", "value"),
    [("DECIMAL(6, 2)", "70.00"), ("DOUBLE", 70.0), ("INTEGER", 70), ("BIGINT", 70), ("DECIMAL(4, 1)", "70.0")],
)
def test_templates_see_normalised_numbers(con: duckdb.DuckDBPyConnection, column_type: str, value: object) -> None:
    assert normalise(con, {"template": "{{ v }} / {{ v + 1 }}"}, value, column_type) == ("70 / 71", None)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"source": "v", "strict": True}, "'strict' applies to a value map"),
        ({"source": "v", "map": {"a": "b"}, "strict": True, "map_default": "c"}, "'map_default' contradicts it"),
        ({"source": "v", "type": "string", "min": 1}, "'min' and 'max' apply to number and integer fields only"),
        ({"source": "v", "min": 5, "max": 1}, "'min' (5) is greater than 'max' (1)"),
        ({"source": "v", "out_of_range": "wrap"}, "'reject' or 'clamp'"),
    ],
)
def test_contradictory_value_rules_are_configuration_errors(spec: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        FieldSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"source": "v", "type": "integer"}, "12", ("12", None)),
        ({"source": "v", "type": "integer"}, "1.5", (None, "f: cannot convert 1.5 to integer")),
        ({"source": "v", "type": "integer", "round": 0}, "1.5", ("2", None)),
        ({"source": "v", "type": "number", "round": 1}, "83.46", ("83.5", None)),
        ({"source": "v", "type": "boolean"}, "maybe", (None, "f: cannot convert maybe to boolean")),
        ({"source": "v", "type": "boolean"}, "TRUE", ("true", None)),
        ({"source": "v", "type": "date"}, "2026-11-20 23:59:00", ("2026-11-20", None)),
        ({"source": "v", "type": "json"}, "{not json", (None, "f: cannot convert {not json to json")),
        ({"source": "v", "map": {"hot": "Hot"}, "map_default": "Other"}, "warm", ("Other", None)),
        ({"source": "v", "required": True}, None, (None, "f: required but empty")),
        ({"template": "{{ v | upper }}!"}, "hi", ("HI!", None)),
        ({"template": "{{ v or '' }}"}, None, (None, None)),  # an empty rendering is an empty field
        ({"template": "{{ v.seats }}"}, None, (None, "f: template failed: 'None' has no attribute 'seats'")),
        ({"template": "{{ 1 / v | int }}"}, "0", (None, "f: template failed: division by zero")),
        ({"value": 3.0, "type": "number"}, "ignored", ("3", None)),
        ({"source": "v", "required": True}, " \t ", (" \t ", "f: required but empty")),
        ({"source": "v", "type": "number", "min": 0, "max": 100}, "-5", ("-5", "f: -5 is below min 0")),
        ({"source": "v", "type": "number", "min": 0, "max": 100}, "250.50", ("250.5", "f: 250.5 is above max 100")),
        ({"source": "v", "type": "number", "min": 0, "max": 100}, "100.0", ("100", None)),
        ({"source": "v", "min": 0.5}, "0.25", ("0.25", "f: 0.25 is below min 0.5")),  # bounds make the field numeric
        ({"source": "v", "type": "integer", "min": 0, "max": 100, "out_of_range": "clamp"}, "250", ("100", None)),
        ({"source": "v", "type": "number", "min": 0, "out_of_range": "clamp"}, "-5", ("0", None)),
        ({"source": "v", "map": {"hot": "Hot", "cold": "Cold"}, "strict": True}, "hot", ("Hot", None)),
        ({"source": "v", "map": {"hot": "Hot"}, "strict": True}, "warm", (None, "f: 'warm' is not in the value map")),
        (
            {"source": "v", "type": "json"},
            '{"b": {"d": 1.50, "c": [2, {"z": 0, "y": null}]}, "a": "é"}',
            ('{"a":"é","b":{"c":[2,{"y":null,"z":0}],"d":1.5}}', None),
        ),
        ({"template": "{{ v }}"}, "70.00", ("70.00", None)),  # text stays text
    ],
)
def test_casts_maps_and_rejections(
    con: duckdb.DuckDBPyConnection, spec: dict[str, object], value: object, expected: tuple[str | None, str | None]
) -> None:
    assert normalise(con, spec, value) == expected
