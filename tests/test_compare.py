"""Tests of the result comparator: each planted difference is caught, and each harmless one is not.

DuckDB serves as a realistic source of results: its Arrow output is compared with a pandas
computation of the same query.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import json
import math
import random

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from gsql.compare import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    FLOAT32_RTOL,
    CompareOptions,
    Comparison,
    assert_results_equal,
    compare_results,
)
from gsql.errors import DataError

ORDERED_BY_KEY = CompareOptions(ordered=True, sort_keys=[0])


def compare(left: pa.Table, right: pa.Table, **options: object) -> Comparison:
    return compare_results(left, right, CompareOptions(**options))  # type: ignore[arg-type]


# Planted differences that must be caught


def test_changed_value_is_reported():
    left = pa.table({"k": [1, 2, 3], "name": ["a", "b", "c"]})
    right = pa.table({"k": [1, 2, 3], "name": ["a", "B", "c"]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.missing_rows == [(2, "b")]
    assert comparison.extra_rows == [(2, "B")]
    assert list(comparison.column_diffs) == ["name"]
    assert "values differ in 1 of 1 paired row" in comparison.column_diffs["name"]


def test_missing_row_is_reported():
    left = pa.table({"k": [1, 2, 3]})
    right = pa.table({"k": [1, 3]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.missing_rows == [(2,)]
    assert comparison.extra_rows == []
    assert "left has 3 rows but right has 2 rows" in comparison.differences
    assert "1 row of left is missing from right" in comparison.differences


def test_extra_duplicate_row_is_reported():
    left = pa.table({"k": [1, 2, 2], "v": ["x", "y", "y"]})
    right = pa.table({"k": [2, 1, 2, 2], "v": ["y", "x", "y", "y"]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.extra_rows == [(2, "y")]
    assert comparison.extra_row_count == 1
    assert comparison.missing_row_count == 0


def test_null_against_value_is_reported():
    left = pa.table({"k": [1, 2], "v": [10, None]})
    right = pa.table({"k": [1, 2], "v": [10, 0]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.missing_rows == [(2, None)]
    assert comparison.extra_rows == [(2, 0)]
    assert "1 of them NULL against a value" in comparison.column_diffs["v"]


def test_nan_against_null_is_reported_by_default():
    left = pa.table({"v": pa.array([1.5, float("nan")])})
    right = pa.table({"v": pa.array([1.5, None], pa.float64())})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.missing_row_count == 1
    assert math.isnan(comparison.missing_rows[0][0])
    assert comparison.extra_rows == [(None,)]


def test_nan_against_null_is_accepted_when_asked():
    left = pa.table({"v": pa.array([1.5, float("nan")])})
    right = pa.table({"v": pa.array([1.5, None], pa.float64())})

    comparison = compare(left, right, nan_equals_null=True)

    assert comparison.equal, comparison.report()
    assert "NaN equals NULL" in comparison.report()


def test_float_beyond_tolerance_is_reported():
    left = pa.table({"k": ["a", "b"], "total": [100.0, 200.0]})
    right = pa.table({"k": ["a", "b"], "total": [100.0, 200.0 * (1 + 1e-6)]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    description = comparison.column_diffs["total"]
    assert "max absolute difference 0.0002" in description
    assert "max relative difference 1e-06" in description
    assert f"rtol={DEFAULT_RTOL!r}" in description


def test_rows_out_of_order_under_order_by():
    left = pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]})
    right = pa.table({"k": [1, 3, 2], "v": ["a", "c", "b"]})

    comparison = compare_results(left, right, ORDERED_BY_KEY)

    assert not comparison.equal
    assert comparison.differences[0].startswith("rows are in a different order")
    assert "first at row 1" in comparison.differences[0]
    assert comparison.missing_rows == []
    assert comparison.extra_rows == []


def test_rows_out_of_order_without_sort_keys():
    left = pa.table({"k": [1, 1], "v": ["a", "b"]})
    right = pa.table({"k": [1, 1], "v": ["b", "a"]})

    comparison = compare(left, right, ordered=True)

    assert not comparison.equal
    assert "the rows differ at 2 positions" in comparison.differences[0]


def test_changed_column_type_is_reported():
    left = pa.table({"k": [1, 2]})
    right = pa.table({"k": ["1", "2"]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.differences == [
        "column `k` has type int64 in left and string in right; these types are not comparable"
    ]
    assert comparison.column_diffs["k"].startswith("types differ")


def test_renamed_column_is_reported():
    left = pa.table({"total": [1, 2]})
    right = pa.table({"Total": [1, 2]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.differences == ["column 0 is named `total` in left but `Total` in right"]


def test_renamed_column_is_accepted_without_name_check():
    left = pa.table({"total": [1, 2]})
    right = pa.table({"sum_1": [1, 2]})

    comparison = compare(left, right, check_names=False)

    assert comparison.equal, comparison.report()
    assert comparison.notes == ["column 0 is named `total` in left but `sum_1` in right"]


@pytest.mark.parametrize(
    ("left_type", "right_type"),
    [
        (pa.bool_(), pa.int64()),
        (pa.int64(), pa.string()),
        (pa.date32(), pa.timestamp("us")),
        (pa.timestamp("us"), pa.timestamp("us", tz="UTC")),
        (pa.float64(), pa.string()),
    ],
)
def test_type_class_change_is_reported(left_type, right_type):
    left = pa.table({"c": pa.array([None], left_type)})
    right = pa.table({"c": pa.array([None], right_type)})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert "these types are not comparable" in comparison.differences[0]


def test_date_against_midnight_timestamp_is_reported():
    left = pa.table({"d": pa.array([datetime.date(2024, 3, 1)])})
    right = pa.table({"d": pa.array([datetime.datetime(2024, 3, 1)], pa.timestamp("s"))})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert "type date32[day] in left and timestamp[s] in right" in comparison.differences[0]


def test_column_count_change_is_reported():
    left = pa.table({"a": [1], "b": [2]})
    right = pa.table({"a": [1]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.differences == [
        "left has 2 columns (`a`, `b`) but right has 1 (`a`); rows were not compared"
    ]


def test_infinities_of_opposite_sign_differ():
    left = pa.table({"v": [math.inf, -math.inf]})
    right = pa.table({"v": [math.inf, math.inf]})

    comparison = compare_results(left, right)

    assert not comparison.equal
    assert comparison.missing_rows == [(-math.inf,)]


def test_ties_across_runs_are_reported():
    # Both results contain the same rows and the same key sequence, but row 0 and row 2 swapped
    # places across the run of key 2, which ORDER BY k does not allow.
    left = pa.table({"k": [1, 2, 1], "v": ["a", "x", "b"]})
    right = pa.table({"k": [1, 2, 1], "v": ["b", "x", "a"]})

    comparison = compare_results(left, right, ORDERED_BY_KEY)

    assert not comparison.equal
    assert (
        "2 runs of rows tied on the sort keys contain different rows" in comparison.differences[0]
    )


def test_rows_moved_between_ties_are_reported():
    left = pa.table({"k": [1, 1, 1, 2, 2], "v": ["a", "a", "b", "b", "c"]})
    right = pa.table({"k": [1, 1, 1, 2, 2], "v": ["a", "b", "b", "a", "c"]})

    comparison = compare_results(left, right, ORDERED_BY_KEY)

    assert not comparison.equal
    assert comparison.missing_rows == [(1, "a"), (2, "b")]
    assert comparison.extra_rows == [(1, "b"), (2, "a")]


def test_float_sort_key_out_of_order_is_reported():
    left = pa.table({"x": [1.0, 2.0, 3.0]})
    right = pa.table({"x": [1.0, 3.0, 2.0]})

    comparison = compare_results(left, right, ORDERED_BY_KEY)

    assert not comparison.equal
    assert "row 1: left has (2.0), right has (3.0)" in comparison.differences


# Harmless differences that must not be flagged


def test_ties_reordered_under_order_by_are_equal():
    left = pa.table({"k": [1, 1, 1, 2, 3, 3], "v": ["a", "b", "c", "d", "e", "f"]})
    right = pa.table({"k": [1, 1, 1, 2, 3, 3], "v": ["c", "a", "b", "d", "f", "e"]})

    comparison = compare_results(left, right, ORDERED_BY_KEY)

    assert comparison.equal, comparison.report()


def test_ties_on_two_sort_keys_reordered_are_equal():
    left = pa.table({"a": [1, 1, 1, 1], "b": ["x", "x", "y", "y"], "v": [1.0, 2.0, 3.0, 4.0]})
    right = pa.table({"a": [1, 1, 1, 1], "b": ["x", "x", "y", "y"], "v": [2.0, 1.0, 4.0, 3.0]})

    comparison = compare(left, right, ordered=True, sort_keys=[0, 1])

    assert comparison.equal, comparison.report()


def test_reordered_float_sums_are_equal():
    rng = random.Random(7)
    values = [rng.uniform(-1e3, 1e4) for _ in range(5_000)]
    forward = sum(values)
    backward = sum(reversed(values))
    assert forward != backward, "the two summation orders must differ for this test to mean much"

    left = pa.table({"k": ["all"], "total": [forward]})
    right = pa.table({"k": ["all"], "total": [backward]})

    assert compare_results(left, right).equal


def test_float_noise_within_tolerance_is_equal():
    values = [0.1 * i for i in range(1, 200)]
    left = pa.table({"k": list(range(1, 200)), "v": values})
    right = pa.table({"k": list(range(1, 200)), "v": [value * (1 + 1e-15) for value in values]})

    comparison = compare_results(left, right)

    assert comparison.equal, comparison.report()


def test_float_noise_that_reorders_rows_is_equal():
    # Without an exact column to group on, noise moves rows across each other in sort order.
    left = pa.table({"a": [1.0, 1.0 + 4e-16, 5.0], "b": [2.0, 1.0, 3.0]})
    right = pa.table({"a": [1.0 + 4e-16, 1.0, 5.0 * (1 + 1e-14)], "b": [2.0, 1.0, 3.0]})

    comparison = compare_results(left, right)

    assert comparison.equal, comparison.report()


def test_pairing_handles_nontransitive_tolerance():
    # 0.0 pairs with both 0.9 and -0.9, which do not pair with each other. Pairing the two exact
    # zeros first would leave 0.9 and -0.9 unpaired.
    left = pa.table({"v": [0.0, 0.9]})
    right = pa.table({"v": [0.0, -0.9]})

    comparison = compare(left, right, rtol=0.0, atol=1.0)

    assert comparison.equal, comparison.report()


def best_pairing_size(left: list[tuple], right: list[tuple], atol: float) -> int:
    """Return the size of the largest pairing of rows by trying every permutation."""
    if len(left) < len(right):
        left, right = right, left
    padded = right + [None] * (len(left) - len(right))

    def close(row: tuple, other: tuple | None) -> bool:
        if other is None or row[0] != other[0]:
            return False
        return all(
            math.isclose(a, b, rel_tol=0.0, abs_tol=atol) for a, b in zip(row[1:], other[1:])
        )

    return max(
        sum(close(row, padded[j]) for row, j in zip(left, order))
        for order in itertools.permutations(range(len(padded)))
    )


def test_pairing_matches_brute_force():
    rng = random.Random(5)
    grid = [0.0, 0.5, 1.0, 1.5]
    schema = pa.schema([("k", pa.string()), ("x", pa.float64()), ("y", pa.float64())])
    for _ in range(150):
        left, right = (
            [
                (rng.choice("ab"), rng.choice(grid), rng.choice(grid))
                for _ in range(rng.randint(0, 5))
            ]
            for _ in range(2)
        )
        left_table = pa.Table.from_pylist([dict(zip(schema.names, row)) for row in left], schema)
        right_table = pa.Table.from_pylist([dict(zip(schema.names, row)) for row in right], schema)

        comparison = compare(left_table, right_table, rtol=0.0, atol=0.6)

        paired = best_pairing_size(left, right, atol=0.6)
        assert comparison.missing_row_count == len(left) - paired, (left, right)
        assert comparison.extra_row_count == len(right) - paired, (left, right)


def test_float_sort_keys_with_noise_are_equal():
    left = pa.table({"x": [0.1 + 0.2, 1.0, 2.0], "v": ["a", "b", "c"]})
    right = pa.table({"x": [0.3, 1.0, 2.0], "v": ["a", "b", "c"]})

    comparison = compare_results(left, right, ORDERED_BY_KEY)

    assert comparison.equal, comparison.report()


def test_int32_against_int64_is_equal():
    left = pa.table({"k": pa.array([1, 2, None], pa.int32())})
    right = pa.table({"k": pa.array([2, None, 1], pa.int64())})

    assert compare_results(left, right).equal


def test_unsigned_against_signed_is_equal():
    left = pa.table({"k": pa.array([1, 2], pa.uint8())})
    right = pa.table({"k": pa.array([2, 1], pa.int64())})

    assert compare_results(left, right).equal


def test_numpy_against_arrow_dtypes_is_equal():
    numpy_frame = pd.DataFrame({"k": [1, 2, 3], "name": ["a", "b", None], "v": [0.5, None, 2.5]})
    arrow_frame = pd.DataFrame(
        {
            "k": pd.array([3, 1, 2], dtype=pd.ArrowDtype(pa.int64())),
            "name": pd.array([None, "a", "b"], dtype=pd.ArrowDtype(pa.large_string())),
            "v": pd.array([2.5, 0.5, None], dtype=pd.ArrowDtype(pa.float64())),
        }
    )

    comparison = compare_results(numpy_frame, arrow_frame)

    assert comparison.equal, comparison.report()


def test_string_types_are_equal():
    values = ["x", None, "yz"]
    string = pa.table({"s": pa.array(values, pa.string())})
    for other in (pa.large_string(), pa.string_view()):
        assert compare_results(string, pa.table({"s": pa.array(values, other)})).equal
    dictionary = pa.table({"s": pa.array(values).dictionary_encode()})
    assert compare_results(string, dictionary).equal
    objects = pd.DataFrame({"s": pd.Series(values, dtype=object)})
    assert compare_results(string, objects).equal


def test_float32_against_float64_is_equal():
    left = pa.table({"v": pa.array([0.1, 1 / 3], pa.float32())})
    right = pa.table({"v": pa.array([0.1, 1 / 3], pa.float64())})

    comparison = compare_results(left, right)

    assert comparison.equal, comparison.report()
    assert f"rtol was raised to {FLOAT32_RTOL!r}" in comparison.notes[0]


def test_decimal_scales_compare_by_value():
    left = pa.table({"d": pa.array([decimal.Decimal("1.50")], pa.decimal128(10, 2))})
    right = pa.table({"d": pa.array([decimal.Decimal("1.5")], pa.decimal128(18, 1))})

    assert compare_results(left, right).equal


def test_decimal_difference_is_exact():
    left = pa.table({"d": pa.array([decimal.Decimal("1.000000000001")], pa.decimal128(20, 12))})
    right = pa.table({"d": pa.array([decimal.Decimal("1.000000000000")], pa.decimal128(20, 12))})

    assert not compare_results(left, right).equal


def test_decimal_against_float_is_within_tolerance():
    left = pa.table({"d": pa.array([decimal.Decimal("0.30")], pa.decimal128(10, 2))})
    right = pa.table({"d": [0.1 + 0.2]})

    comparison = compare_results(left, right)

    assert comparison.equal, comparison.report()
    assert "compared as floating-point numbers" in comparison.notes[0]


def test_integer_against_float_from_pandas_is_equal():
    # A NumPy int column that gains a missing value becomes float64 in pandas.
    left = pa.table({"n": pa.array([1, None, 3], pa.int64())})
    right = pd.DataFrame({"n": [1.0, float("nan"), 3.0]})

    assert compare_results(left, right).equal


def test_timestamp_units_compare_by_value():
    moment = datetime.datetime(2024, 3, 1, 12, 30, 5)
    left = pa.table({"t": pa.array([moment], pa.timestamp("s"))})
    right = pa.table({"t": pa.array([moment], pa.timestamp("ns"))})

    assert compare_results(left, right).equal


def test_time_zones_compare_as_instants():
    moment = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)
    left = pa.table({"t": pa.array([moment], pa.timestamp("us", tz="UTC"))})
    right = pa.table({"t": pa.array([moment], pa.timestamp("ms", tz="Europe/Paris"))})

    assert compare_results(left, right).equal


def test_nan_null_and_infinity_equal_themselves():
    values = [float("nan"), None, math.inf, -math.inf, 0.0]
    left = pa.table({"v": pa.array(values, pa.float64())})
    right = pa.table({"v": pa.array(list(reversed(values)), pa.float64())})

    assert compare_results(left, right).equal


def test_null_type_column_matches_any_type():
    left = pa.table({"v": pa.array([None, None], pa.int32())})
    right = pd.DataFrame({"v": [None, None]})

    assert compare_results(left, right).equal


def test_duplicates_in_same_counts_are_equal():
    left = pa.table({"k": [1, 1, 1, 2, 2], "v": [0.5, 0.5, 0.5, None, None]})
    right = pa.table({"k": [2, 1, 2, 1, 1], "v": [None, 0.5, None, 0.5, 0.5]})

    assert compare_results(left, right).equal


def test_empty_against_empty_is_equal():
    left = pa.table({"k": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    right = pd.DataFrame({"k": pd.Series([], dtype="int32"), "s": pd.Series([], dtype=object)})

    comparison = compare_results(left, right)

    assert comparison.equal, comparison.report()
    assert comparison.left_rows == 0
    assert comparison.right_rows == 0


def test_nested_values_compare_exactly():
    left = pa.table({"l": [[1, 2], None, []], "s": [{"a": 1}, {"a": None}, {"a": 3}]})
    right = pa.table({"l": [None, [], [1, 2]], "s": [{"a": None}, {"a": 3}, {"a": 1}]})

    assert compare_results(left, right).equal


def test_duplicate_column_names_from_pandas():
    frame = pd.DataFrame([[1, 2], [3, 4]], columns=["x", "x"])
    table = pa.table([pa.array([3, 1]), pa.array([4, 2])], names=["x", "x"])

    assert compare_results(frame, table).equal
    different = compare_results(
        frame, pa.table([pa.array([3, 1]), pa.array([4, 0])], names=["x", "x"])
    )
    assert list(different.column_diffs) == ["x (column 1)"]


def test_many_duplicate_floats_compare_quickly():
    left = pa.table({"v": [0.0] * 20_001})
    right = pa.table({"v": [0.0] * 20_000})

    comparison = compare_results(left, right)

    assert comparison.extra_row_count == 0
    assert comparison.missing_row_count == 1


def test_many_noisy_floats_pair_up():
    rng = random.Random(3)
    values = [rng.uniform(-1e6, 1e6) for _ in range(20_000)]
    noisy = [value * (1 + rng.choice([-1, 1]) * 1e-14) for value in values]
    rng.shuffle(noisy)

    comparison = compare_results(pa.table({"v": values}), pa.table({"v": noisy}))

    assert comparison.equal, comparison.report()


# Inputs


def test_accepted_input_forms():
    table = pa.table({"k": [1, 2], "s": ["a", "b"]})

    class ToArrow:
        def to_arrow(self) -> pa.Table:
            return table

    connection = duckdb.connect()
    relation = connection.sql("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(k, s)")
    sources = [
        table.to_batches()[0],
        pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        table.to_pandas(),
        relation,
        ToArrow(),
    ]
    for source in sources:
        assert compare_results(table, source).equal, type(source).__name__


def test_dataframe_index_is_ignored():
    frame = pd.DataFrame({"k": [1, 2]}, index=[10, 20])

    assert compare_results(frame, pa.table({"k": [1, 2]})).equal


def test_unsupported_input_raises():
    with pytest.raises(TypeError, match=r"cannot compare the left result of type `list`"):
        compare_results([1, 2], pa.table({"k": [1, 2]}))


def test_mixed_object_column_raises():
    frame = pd.DataFrame({"k": pd.Series([1, "a"], dtype=object)})

    with pytest.raises(DataError, match=r"cannot convert the right DataFrame to Arrow"):
        compare_results(pa.table({"k": [1, 2]}), frame)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rtol": -1.0}, r"invalid rtol -1\.0"),
        ({"rtol": 1.0}, r"invalid rtol 1\.0"),
        ({"atol": math.nan}, r"invalid atol nan"),
        ({"max_rows_shown": -1}, r"invalid max_rows_shown -1"),
        ({"sort_keys": [0]}, r"sort_keys needs ordered=True"),
        ({"ordered": True, "sort_keys": [-1]}, r"invalid sort key -1"),
        ({"ordered": True, "sort_keys": ["k"]}, r"invalid sort key 'k'"),
    ],
)
def test_invalid_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        CompareOptions(**options)


def test_sort_key_out_of_range_raises():
    table = pa.table({"k": [1]})

    with pytest.raises(ValueError, match=r"sort key 3 is out of range for a result with 1 column;"):
        compare(table, table, ordered=True, sort_keys=[3])


def test_sort_keys_are_stored_as_tuple():
    assert CompareOptions(ordered=True, sort_keys=[2, 0]).sort_keys == (2, 0)


# Report and assertion


def test_report_states_tolerances():
    table = pa.table({"k": [1]})

    for comparison in (compare_results(table, table), compare(table, table, rtol=1e-6, atol=0.0)):
        options = comparison.options
        assert f"rtol={options.rtol!r}, atol={options.atol!r}" in comparison.report()


def test_report_lists_missing_and_extra_rows():
    left = pa.table({"k": [1, 2], "v": [1.0, 2.0]})
    right = pa.table({"k": [1, 3], "v": [1.0, 2.0]})

    report = compare_results(left, right, left_label="duckdb", right_label="gsql").report()

    assert report.splitlines()[0] == "duckdb and gsql differ: duckdb has 2 rows, gsql has 2 rows"
    assert (
        "missing rows (in duckdb, not in gsql), 1 of 1 shown, columns (`k`, `v`):\n  (2, 2.0)"
        in report
    )
    assert (
        "extra rows (in gsql, not in duckdb), 1 of 1 shown, columns (`k`, `v`):\n  (3, 2.0)"
        in report
    )
    assert "column differences:\n  `k`: values differ in 1 of 1 paired row" in report


def test_rows_shown_are_limited():
    left = pa.table({"k": list(range(30))})
    right = pa.table({"k": pa.array([], pa.int64())})

    comparison = compare(left, right, max_rows_shown=4)

    assert comparison.missing_rows == [(0,), (1,), (2,), (3,)]
    assert comparison.missing_row_count == 30
    assert "4 of 30 shown" in comparison.report()


def test_to_dict_is_json_serialisable():
    left = pa.table(
        {
            "d": pa.array([decimal.Decimal("1.25")], pa.decimal128(5, 2)),
            "t": [datetime.datetime(2024, 1, 2, 3, 4, 5)],
            "f": [math.nan],
            "b": [b"\x00\xff"],
        }
    )
    right = pa.table(
        {
            "d": pa.array([decimal.Decimal("1.26")], pa.decimal128(5, 2)),
            "t": [datetime.datetime(2024, 1, 2, 3, 4, 5)],
            "f": [math.inf],
            "b": [b"\x00\xff"],
        }
    )

    data = json.loads(json.dumps(compare_results(left, right).to_dict(), allow_nan=False))

    assert data["equal"] is False
    assert data["missing_rows"] == [["1.25", "2024-01-02T03:04:05", "NaN", "00ff"]]
    assert data["extra_rows"] == [["1.26", "2024-01-02T03:04:05", "Infinity", "00ff"]]
    assert data["options"]["rtol"] == DEFAULT_RTOL
    assert data["options"]["atol"] == DEFAULT_ATOL


def test_assert_results_equal_raises_with_report():
    left = pa.table({"k": [1, 2]})
    right = pa.table({"k": [1]})

    with pytest.raises(
        AssertionError, match=r"(?s)rtol=.*1 row of expected is missing from actual"
    ):
        assert_results_equal(left, right, left_label="expected", right_label="actual")


def test_assert_results_equal_passes_options():
    left = pa.table({"k": [1, 1], "v": [1.0, 2.0]})
    right = pa.table({"k": [1, 1], "v": [2.0, 1.001]})

    assert_results_equal(left, right, ordered=True, sort_keys=[0], rtol=1e-2)
    with pytest.raises(AssertionError, match=r"rows are in a different order"):
        assert_results_equal(left, right, ordered=True, rtol=1e-2)


# DuckDB as the reference engine

FLIGHTS_QUERY = """
    SELECT carrier, COUNT(*) AS flights, SUM(distance) AS total_distance, AVG(delay) AS mean_delay
    FROM flights
    WHERE distance > 100
    GROUP BY carrier
    ORDER BY carrier NULLS LAST
"""


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    rng = random.Random(11)
    row_count = 4_000
    carriers = [rng.choice(["AA", "DL", "UA", "B6", None]) for _ in range(row_count)]
    distances = [rng.choice([100, 250, 733, 1_400, 2_475]) for _ in range(row_count)]
    delays = [None if rng.random() < 0.1 else rng.gauss(5.0, 30.0) for _ in range(row_count)]
    # The carrier ZZ flies once and has no delay, so its AVG is NULL.
    return pa.table(
        {
            "carrier": carriers + ["ZZ"],
            "distance": pa.array(distances + [500], pa.int64()),
            "delay": pa.array(delays + [None], pa.float64()),
        }
    )


def run_duckdb(flights: pa.Table) -> pa.Table:
    connection = duckdb.connect()
    connection.register("flights", flights)
    return connection.sql(FLIGHTS_QUERY).arrow().read_all()


def run_pandas(flights: pa.Table, minimum_distance: int = 100) -> pd.DataFrame:
    frame = flights.to_pandas()
    kept = frame[frame["distance"] > minimum_distance]
    grouped = kept.groupby("carrier", dropna=False).agg(
        flights=("distance", "size"),
        total_distance=("distance", "sum"),
        mean_delay=("delay", "mean"),
    )
    return grouped.reset_index().sort_values("carrier", na_position="last", ignore_index=True)


def test_duckdb_against_pandas_is_equal(flights):
    expected = run_duckdb(flights)
    assert pa.types.is_decimal(expected.schema.field("total_distance").type)  # SUM gives HUGEINT

    comparison = compare_results(
        expected, run_pandas(flights), ORDERED_BY_KEY, left_label="duckdb", right_label="pandas"
    )

    assert comparison.equal, comparison.report()
    assert comparison.left_rows == 6


def test_duckdb_against_pandas_with_planted_bug(flights):
    # A minimum of 99 keeps the flights of exactly 100 miles, as `>=` in place of `>` would.
    actual = run_pandas(flights, minimum_distance=99)

    comparison = compare_results(
        run_duckdb(flights), actual, ORDERED_BY_KEY, left_label="duckdb", right_label="pandas"
    )

    assert not comparison.equal
    assert comparison.missing_row_count == 5
    assert comparison.extra_row_count == 5
    assert set(comparison.column_diffs) == {"flights", "total_distance", "mean_delay"}
