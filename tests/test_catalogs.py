"""Tests of table sources, the catalog and the catalog file.

The oracle for CSV parsing of the real nycflights13 data is DuckDB's `read_csv`. Small fixture
files are written under pytest's `tmp_path`.
"""

from __future__ import annotations

import bz2
import decimal
import os
import tomllib
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from gsql.catalogs import (
    Catalog,
    TableSource,
    default_catalog_path,
    load_catalog,
    save_catalog,
    source_from_frame,
    source_from_path,
    source_from_table_function,
)
from gsql.catalogs._toml import format_value
from gsql.errors import BindError, CatalogError, DataError, UnsupportedError

NYCFLIGHTS = Path("/work/shared/data/nycflights13")
FLIGHTS = NYCFLIGHTS / "flights.csv.gz"

pytestmark = pytest.mark.skipif(not FLIGHTS.exists(), reason="nycflights13 data is not present")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def duckdb_value(sql: str) -> object:
    return duckdb.sql(sql).fetchall()[0][0]


@pytest.fixture(scope="module")
def flights() -> TableSource:
    source = source_from_path("flights", FLIGHTS)
    source.arrow_schema()
    return source


@pytest.fixture(scope="module")
def flights_counts() -> dict[str, int]:
    """Counts from DuckDB's reading of the same file, with `NA` as the NULL marker."""
    names = ["rows", "null_dep_time", "null_tailnum", "delayed"]
    row = duckdb.sql(
        "select count(*), count(*) filter (where dep_time is null), "
        "count(*) filter (where tailnum is null), count(*) filter (where dep_delay > 60) "
        f"from read_csv('{FLIGHTS}', nullstr='NA')"
    ).fetchall()[0]
    return dict(zip(names, row, strict=True))


# --- CSV: the real nycflights13 data, against DuckDB ---


def test_flights_na_markers_are_null(flights: TableSource, flights_counts: dict[str, int]) -> None:
    table = flights.read(["dep_time", "tailnum"])
    assert table.num_rows == flights_counts["rows"]
    assert table.column("dep_time").null_count == flights_counts["null_dep_time"]
    assert table.column("tailnum").null_count == flights_counts["null_tailnum"]
    assert flights_counts["null_dep_time"] == 8255


def test_flights_schema_is_normalised(flights: TableSource) -> None:
    schema = flights.arrow_schema()
    assert schema.field("dep_time").type == pa.int64()
    assert schema.field("carrier").type == pa.large_string()
    assert pa.types.is_timestamp(schema.field("time_hour").type)
    # The schema inference parsed the file, so the row count is known without another parse.
    assert flights.row_count() == flights.read(["year"]).num_rows


def test_flights_projection_keeps_order_and_repeats(flights: TableSource) -> None:
    table = flights.read(["carrier", "dep_time", "carrier"])
    assert table.column_names == ["carrier", "dep_time", "carrier"]
    assert table.schema.field(0).type == pa.large_string()


def test_flights_empty_projection_counts_rows(flights: TableSource) -> None:
    table = flights.read([])
    assert table.num_columns == 0
    assert table.num_rows == 336_776


def test_flights_filter_reads_unprojected_column(
    flights: TableSource, flights_counts: dict[str, int]
) -> None:
    table = flights.read(["carrier"], filter=pc.field("dep_delay") > 60)
    assert table.column_names == ["carrier"]
    assert table.num_rows == flights_counts["delayed"]


def test_unknown_column_suggests_name(flights: TableSource) -> None:
    with pytest.raises(
        BindError, match=r"unknown column `dep_tme` in table `flights`; did you mean `dep_time`\?"
    ):
        flights.read(["dep_tme"])


@pytest.mark.parametrize("name", ["airlines.csv", "airports.csv", "planes.csv", "weather.csv"])
def test_small_flights_tables_match_duckdb_counts(name: str) -> None:
    path = NYCFLIGHTS / name
    table = source_from_path(Path(name).stem, path).read()
    assert table.num_rows == duckdb_value(f"select count(*) from read_csv('{path}')")


# --- CSV reader options ---


def test_csv_without_header_uses_names(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.csv", "1,a\n2,b\n")
    table = source_from_path("t", path, header=None, names=["id", "label"]).read()
    assert table.to_pydict() == {"id": [1, 2], "label": ["a", "b"]}


def test_csv_without_header_names_columns_by_position(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.csv", "1,a\n2,b\n")
    source = source_from_path("t", path, header=False)
    assert source.arrow_schema().names == ["column0", "column1"]
    assert source.read(["column1"]).to_pydict() == {"column1": ["a", "b"]}


def test_csv_names_replace_header(tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", "x,y\n1,2\n")
    table = source_from_path("t", path, names=["a", "b"]).read()
    assert table.to_pydict() == {"a": [1], "b": [2]}


def test_csv_header_row_index_and_skiprows(tmp_path: Path) -> None:
    path = write(tmp_path / "preamble.csv", "exported by a tool\nid,value\n1,2\n")
    by_header = source_from_path("t", path, header=1).read()
    by_skip = source_from_path("t", path, skiprows=1).read()
    assert by_header.to_pydict() == {"id": [1], "value": [2]}
    assert by_skip.to_pydict() == {"id": [1], "value": [2]}


def test_csv_semicolon_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "semi.csv", "a;b\n1,5;x\n")
    table = source_from_path("t", path, delimiter=";").read()
    assert table.to_pydict() == {"a": ["1,5"], "b": ["x"]}


def test_csv_sep_alias_and_tsv_default(tmp_path: Path) -> None:
    tsv = write(tmp_path / "tabs.tsv", "a\tb\n1\t2\n")
    pipe = write(tmp_path / "pipe.csv", "a|b\n1|2\n")
    assert source_from_path("t", tsv).options == {"delimiter": "\t"}
    assert source_from_path("t", tsv).read().to_pydict() == {"a": [1], "b": [2]}
    assert source_from_path("t", pipe, sep="|").read().to_pydict() == {"a": [1], "b": [2]}


def test_csv_quote_escape_and_embedded_newline(tmp_path: Path) -> None:
    doubled = write(tmp_path / "doubled.csv", 'a,b\n"say ""hi""","x,\ny"\n')
    single = write(tmp_path / "single.csv", "a,b\n'one, two',3\n")
    escaped = write(tmp_path / "escaped.csv", 'a,b\n"back\\"slash",1\n')
    assert source_from_path("t", doubled).read().to_pydict() == {
        "a": ['say "hi"'],
        "b": ["x,\ny"],
    }
    assert source_from_path("t", single, quotechar="'").read().to_pydict() == {
        "a": ["one, two"],
        "b": [3],
    }
    assert source_from_path("t", escaped, escapechar="\\").read().to_pydict() == {
        "a": ['back"slash'],
        "b": [1],
    }


def test_csv_dtype_decimal_and_arrow_name(tmp_path: Path) -> None:
    path = write(tmp_path / "prices.csv", "id,price,ratio\n1,12.50,1\n2,NA,2\n")
    source = source_from_path("t", path, dtype={"price": "DECIMAL(12,2)", "ratio": "float64"})
    table = source.read()
    assert source.arrow_schema().field("price").type == pa.decimal128(12, 2)
    assert table.column("price").to_pylist() == [decimal.Decimal("12.50"), None]
    assert table.schema.field("ratio").type == pa.float64()


def test_csv_na_values_and_keep_default_na(tmp_path: Path) -> None:
    path = write(tmp_path / "markers.csv", "a,b\n-,NA\nx,y\n")
    added = source_from_path("t", path, na_values="-").read()
    only = source_from_path("t", path, na_values=["-"], keep_default_na=False).read()
    assert added.to_pydict() == {"a": [None, "x"], "b": [None, "y"]}
    assert only.to_pydict() == {"a": [None, "x"], "b": ["NA", "y"]}


def test_csv_latin1_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.csv", "name,city\nJosé,Zürich\n", encoding="latin-1")
    table = source_from_path("t", path, encoding="latin-1").read()
    assert table.to_pydict() == {"name": ["José"], "city": ["Zürich"]}


def test_csv_invalid_utf8_names_encoding_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.csv", "name\nJosé\n", encoding="latin-1")
    with pytest.raises(
        DataError, match=r"column `name` of `.*latin\.csv` is not valid UTF-8; pass"
    ):
        source_from_path("t", path).read()


@pytest.mark.parametrize(
    ("file_name", "compression"),
    [("data.csv.zst", "zstd"), ("data.csv.bz2", "bz2"), ("data.csv.gz", "gzip")],
)
def test_csv_compression_inferred_from_extension(
    tmp_path: Path, file_name: str, compression: str
) -> None:
    with pa.output_stream(tmp_path / file_name, compression=compression) as stream:
        stream.write(b"a,b\n1,x\n2,NA\n")
    table = source_from_path("t", tmp_path / file_name).read()
    assert table.to_pydict() == {"a": [1, 2], "b": ["x", None]}


def test_csv_explicit_compression(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_bytes(bz2.compress(b"a\n1\n"))
    table = source_from_path("t", path, format="csv", compression="bz2").read()
    assert table.to_pydict() == {"a": [1]}


def test_csv_glob_concatenates_and_widens_types(tmp_path: Path) -> None:
    write(tmp_path / "parts" / "a.csv", "id,value\n1,2\n")
    write(tmp_path / "parts" / "b.csv", "id,value\n3,4.5\n")
    source = source_from_path("t", tmp_path / "parts" / "*.csv")
    assert source.arrow_schema().field("value").type == pa.float64()
    assert source.read(["id", "value"]).to_pydict() == {"id": [1, 3], "value": [2.0, 4.5]}


def test_csv_directory_skips_hidden_files(tmp_path: Path) -> None:
    write(tmp_path / "dir" / "a.csv", "id\n1\n")
    write(tmp_path / "dir" / "_SUCCESS", "")
    write(tmp_path / "dir" / ".a.csv.crc", "junk")
    assert source_from_path("t", tmp_path / "dir").read().to_pydict() == {"id": [1]}


# --- CSV errors ---


def test_csv_glob_column_mismatch(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,value\n1,2\n")
    write(tmp_path / "b.csv", "id,other\n3,4\n")
    source = source_from_path("t", tmp_path / "*.csv")
    with pytest.raises(DataError, match=r"different columns: `.*a\.csv` has .* but `.*b\.csv` has"):
        source.arrow_schema()


def test_csv_glob_type_conflict(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id\n1\n")
    write(tmp_path / "b.csv", "id\nx\n")
    source = source_from_path("t", tmp_path / "*.csv")
    with pytest.raises(
        DataError, match=r"column `id` is int64 in `.*a\.csv` but string in `.*b\.csv`"
    ):
        source.arrow_schema()


def test_csv_malformed_row_names_line(tmp_path: Path) -> None:
    # The blank line and the quoted two-line value make the physical line (6) differ from
    # pyarrow's row number (4).
    path = write(tmp_path / "bad.csv", 'a,b\n1,2\n\n"x\ny",3\n4,5,6\n')
    with pytest.raises(
        DataError,
        match=r"malformed CSV row in `.*bad\.csv` at line 6: expected 2 fields, got 3: `4,5,6`; "
        r"check the delimiter \(`,`\)",
    ):
        source_from_path("t", path).read()


def test_csv_malformed_row_in_large_file(tmp_path: Path) -> None:
    # Large enough for pyarrow to read in several blocks, across threads.
    rows = "".join(f"{index},{index}\n" for index in range(200_000))
    path = write(tmp_path / "large.csv", "a,b\n" + rows + "1,2,3\n")
    with pytest.raises(DataError, match=r"at line 200002: expected 2 fields, got 3"):
        source_from_path("t", path).arrow_schema()


def test_csv_unparseable_value_names_column(tmp_path: Path) -> None:
    path = write(tmp_path / "values.csv", "id,amount\n1,2\n2,lots\n")
    source = source_from_path("t", path, dtype={"amount": "BIGINT"})
    with pytest.raises(
        DataError,
        match=r"invalid value in column `amount` of `.*values\.csv` at line 3: "
        r".*invalid value 'lots'",
    ):
        source.arrow_schema()


def test_csv_dtype_for_unknown_column(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "dep_time\n1\n")
    source = source_from_path("t", path, dtype={"dep_tme": "BIGINT"})
    with pytest.raises(
        CatalogError, match=r"`dtype` names column `dep_tme`.*did you mean `dep_time`"
    ):
        source.arrow_schema()


def test_csv_duplicate_header_names(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "a,a\n1,2\n")
    with pytest.raises(DataError, match=r"repeats column `a` in its header; pass `names`"):
        source_from_path("t", path).arrow_schema()


def test_missing_file_and_empty_glob(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"file not found: `.*x\.csv`; check the path or the glob"):
        source_from_path("t", tmp_path / "x.csv")
    with pytest.raises(DataError, match=r"file not found: `.*nothing-\*\.csv`; check the path"):
        source_from_path("t", tmp_path / "nothing-*.csv")


def test_file_deleted_after_registration(tmp_path: Path) -> None:
    path = write(tmp_path / "gone.csv", "a\n1\n")
    source = source_from_path("t", path)
    path.unlink()
    with pytest.raises(DataError, match=r"file not found: `.*gone\.csv`"):
        source.read()


def test_unknown_extension_asks_for_format(tmp_path: Path) -> None:
    path = write(tmp_path / "data.dat", "a\n1\n")
    with pytest.raises(
        CatalogError, match=r"cannot infer the file format of `.*data\.dat`.*pass format='csv'"
    ):
        source_from_path("t", path)
    assert source_from_path("t", path, format="csv").read().to_pydict() == {"a": [1]}


def test_directory_mixing_formats(tmp_path: Path) -> None:
    write(tmp_path / "mixed" / "a.csv", "a\n1\n")
    pq.write_table(pa.table({"a": [1]}), tmp_path / "mixed" / "b.parquet")
    with pytest.raises(CatalogError, match=r"contains both CSV and Parquet files; pass format="):
        source_from_path("t", tmp_path / "mixed")
    assert source_from_path("t", tmp_path / "mixed", format="csv").read().to_pydict() == {"a": [1]}


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"delimter": ";"}, r"unknown csv option `delimter`; did you mean `delimiter`\?"),
        ({"delimiter": ";;"}, r"invalid `delimiter` option ';;': expected one character"),
        ({"header": -1}, r"invalid `header` option -1"),
        ({"names": ["a", "a"]}, r"duplicate column `a` in `names`"),
        ({"dtype": {"a": "NOT A TYPE"}}, r"unknown type 'NOT A TYPE' for column `a`"),
        ({"dtype": ["BIGINT"]}, r"invalid `dtype` option .*expected a mapping"),
        ({"encoding": "klingon"}, r"invalid `encoding` option 'klingon'"),
        ({"compression": "rar"}, r"invalid `compression` option 'rar'"),
        ({"sep": ";", "delimiter": ";"}, r"option `delimiter` is given twice"),
        ({"hive_partitioning": True}, r"unknown csv option `hive_partitioning`"),
    ],
)
def test_invalid_csv_options(tmp_path: Path, options: dict[str, object], pattern: str) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    with pytest.raises(CatalogError, match=pattern):
        source_from_path("t", path, **options)


# --- Parquet ---


@pytest.fixture()
def parquet_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sales"
    for year, values in ((2013, [1, 2]), (2014, [3])):
        folder = root / f"year={year}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"amount": values}), folder / "part-0.parquet")
    (root / "_SUCCESS").write_text("")
    return root


def test_parquet_single_file(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2], "s": ["x", "y"]}), path)
    source = source_from_path("t", path)
    assert source.format == "parquet"
    assert source.arrow_schema() == pa.schema([("a", pa.int64()), ("s", pa.large_string())])
    assert source.read(["s"]).to_pydict() == {"s": ["x", "y"]}
    assert source.row_count() == 2


def test_parquet_hive_partition_columns(parquet_dir: Path) -> None:
    source = source_from_path("sales", parquet_dir)
    table = source.read(["year", "amount"]).sort_by("amount")
    assert source.arrow_schema().names == ["amount", "year"]
    assert table.to_pydict() == {"year": [2013, 2013, 2014], "amount": [1, 2, 3]}
    assert source.row_count() == 3


def test_parquet_filter_on_partition_column(parquet_dir: Path) -> None:
    source = source_from_path("sales", parquet_dir)
    table = source.read(["amount"], filter=pc.field("year") == 2014)
    assert table.to_pydict() == {"amount": [3]}


def test_parquet_glob_and_no_hive(parquet_dir: Path) -> None:
    by_glob = source_from_path("sales", parquet_dir / "year=*" / "*.parquet")
    without_hive = source_from_path("sales", parquet_dir, hive_partitioning=False)
    assert by_glob.arrow_schema().names == ["amount", "year"]
    assert sorted(by_glob.read(["amount"]).column("amount").to_pylist()) == [1, 2, 3]
    assert without_hive.arrow_schema().names == ["amount"]


def test_parquet_view_types_normalised(tmp_path: Path) -> None:
    path = tmp_path / "views.parquet"
    table = pa.table(
        {
            "s": pa.array(["x", "y", None], pa.string_view()),
            "d": pa.array(["a", "b", "a"]).dictionary_encode(),
        }
    )
    pq.write_table(table, path)
    assert pq.read_schema(path).field("s").type == pa.string_view()

    source = source_from_path("t", path)
    expected = pa.schema([("s", pa.large_string()), ("d", pa.large_string())])
    assert source.arrow_schema() == expected
    assert source.read().schema == expected
    # pyarrow 26 has no comparison kernel for string_view, so the filter applies after the cast.
    filtered = source.read(["d"], filter=pc.field("s") == "y")
    assert filtered.to_pydict() == {"d": ["b"]}


def test_parquet_dtype_override_casts(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"price": [1.25, 2.5], "id": [1, 2]}), path)
    source = source_from_path("t", path, dtype={"price": "DECIMAL(10,2)", "id": "INT"})
    table = source.read(
        filter=pc.field("price") > pa.scalar(decimal.Decimal(2), pa.decimal128(10, 2))
    )
    assert source.arrow_schema().field("price").type == pa.decimal128(10, 2)
    assert table.schema.field("id").type == pa.int32()
    assert table.column("price").to_pylist() == [decimal.Decimal("2.50")]


def test_parquet_unreadable_file_is_named(tmp_path: Path, parquet_dir: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match=r"cannot read Parquet file `.*bad\.parquet`"):
        source_from_path("t", bad).arrow_schema()

    (parquet_dir / "year=2015").mkdir()
    (parquet_dir / "year=2015" / "part-0.parquet").write_bytes(b"PAR1 broken")
    with pytest.raises(DataError, match=r"cannot read Parquet file `.*year=2015.part-0\.parquet`"):
        source_from_path("sales", parquet_dir).read()


# --- In-memory frames ---


def test_frame_source_reads_and_filters() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", None]}, index=[10, 20, 30])
    source = source_from_frame("frame", frame)
    assert source.arrow_schema().names == ["a", "s"]
    assert source.arrow_schema().field("s").type == pa.large_string()
    assert source.read(["s"], filter=pc.field("a") >= 2).to_pydict() == {"s": ["y", None]}
    assert source.row_count() == 3


def test_arrow_table_source() -> None:
    table = pa.table({"d": pa.array(["a", "a"]).dictionary_encode()})
    source = source_from_frame("t", table)
    assert source.read().schema == pa.schema([("d", pa.large_string())])


def test_frame_source_rejects_other_objects() -> None:
    with pytest.raises(CatalogError, match=r"cannot register a list as table `t`; pass a pandas"):
        source_from_frame("t", [1, 2])  # type: ignore[arg-type]


def test_memory_source_cannot_be_saved(tmp_path: Path) -> None:
    source = source_from_frame("frame", pa.table({"a": [1]}))
    with pytest.raises(CatalogError, match=r"table `frame` is an in-memory frame"):
        source.to_dict()
    with pytest.raises(CatalogError, match=r"table `frame` is an in-memory frame"):
        save_catalog(Catalog([source]), tmp_path / "gsql.toml")
    with pytest.raises(CatalogError, match=r"format `memory`, which a file cannot hold"):
        TableSource.from_dict({"name": "frame", "format": "memory", "paths": []})


# --- Catalog ---


def test_catalog_lookup_ignores_case(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    catalog = Catalog()
    catalog.register(source_from_path("Flights", path))
    catalog.register(source_from_path("planes", path))
    assert catalog.get("FLIGHTS").name == "Flights"
    assert "flights" in catalog
    assert 3 not in catalog
    assert catalog.names() == ["Flights", "planes"]
    assert [source.name for source in catalog] == ["Flights", "planes"]
    assert len(catalog) == 2


def test_catalog_duplicate_and_replace(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    catalog = Catalog([source_from_path("flights", path), source_from_path("planes", path)])
    with pytest.raises(CatalogError, match=r"table `flights` is already registered"):
        catalog.register(source_from_path("FLIGHTS", path))
    catalog.register(source_from_path("FLIGHTS", path, delimiter=";"), replace=True)
    assert catalog.names() == ["FLIGHTS", "planes"]
    assert catalog.get("flights").options == {"delimiter": ";"}


def test_catalog_unknown_table_suggests(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    catalog = Catalog([source_from_path("flights", path)])
    with pytest.raises(
        BindError,
        match=r"unknown table `fligths`; did you mean `flights`\? To add a table, register a file",
    ):
        catalog.get("fligths")
    with pytest.raises(
        BindError,
        match=r"unknown table `nothing`; register a file as table `nothing`, or name the file",
    ):
        catalog.drop("nothing")
    catalog.drop("Flights")
    assert len(catalog) == 0


# --- Catalog file ---


def test_catalog_file_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "data" / "a b.tsv", "x\ty\n1\t2\n")
    write(tmp_path / "data" / "p.csv", "1;2\n")
    odd_name = 'odd "name" \\ é'
    catalog = Catalog(
        [
            source_from_path("tabs", "data/a b.tsv", dtype={"y": pa.float64()}, na_values=["-"]),
            source_from_path(odd_name, "data/p.csv", header=None, names=["a", "b"], sep=";"),
        ]
    )
    path = tmp_path / "conf" / "gsql.toml"
    save_catalog(catalog, path)
    loaded = load_catalog(path)

    assert loaded.names() == ["tabs", odd_name]
    tabs = loaded.get("tabs")
    assert tabs.paths == [str(tmp_path / "data" / "a b.tsv")]
    assert tabs.options == {"dtype": {"y": "DOUBLE"}, "na_values": ["-"], "delimiter": "\t"}
    assert loaded.get(odd_name).options == {
        "header": None,
        "names": ["a", "b"],
        "delimiter": ";",
    }
    assert loaded.get(odd_name).read().to_pydict() == {"a": [1], "b": [2]}
    assert tabs.read().to_pydict() == {"x": [1], "y": [2.0]}


def test_catalog_file_relative_paths(tmp_path: Path) -> None:
    write(tmp_path / "data" / "a.csv", "a\n1\n")
    path = write(
        tmp_path / "gsql.toml",
        'version = 1\n\n[tables.a]\nformat = "csv"\npaths = ["data/a.csv"]\n',
    )
    source = load_catalog(path).get("a")
    assert source.paths == [str(tmp_path / "data" / "a.csv")]
    assert source.read().to_pydict() == {"a": [1]}


def test_catalog_file_missing_is_empty(tmp_path: Path) -> None:
    assert len(load_catalog(tmp_path / "none.toml")) == 0


def test_catalog_file_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write(tmp_path / "a.csv", "a\n1\n")
    path = tmp_path / "gsql.toml"
    save_catalog(Catalog([source_from_path("old", data)]), path)
    before = path.read_bytes()

    def fail_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail_fsync)
    with pytest.raises(
        CatalogError, match=r"cannot write catalog file `.*gsql\.toml`: .*No space left"
    ):
        save_catalog(Catalog([source_from_path("new", data)]), path)

    assert path.read_bytes() == before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["a.csv", "gsql.toml"]


def test_catalog_file_malformed_toml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "gsql.toml", 'version = 1\n[tables.a]\nformat = "csv\n')
    with pytest.raises(
        CatalogError, match=r"invalid TOML in catalog file `.*gsql\.toml` at line 3"
    ):
        load_catalog(path)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            '[tables.a]\nformat = "csv"\n',
            r"invalid table `a` in catalog file .*: table entry has no `paths`",
        ),
        ('[tables.a]\nformat = "xls"\npaths = ["a"]\n', r"unknown format `xls` for table `a`"),
        (
            '[tables.a]\nformat = "csv"\npaths = ["a"]\nopts = {}\n',
            r"unknown key `opts` in table entry; did you mean `options`\?",
        ),
        (
            '[tables.a]\nformat = "csv"\npaths = ["a"]\n[tables.a.options]\ndelim = ";"\n',
            r"unknown csv option `delim`",
        ),
        (
            '[tables.a]\nformat = "csv"\npaths = ["a"]\n[tables.A]\nformat = "csv"\npaths = "a"\n',
            r"invalid table `A` .*: table `a` is already registered",
        ),
        ("version = 9\n", r"has version 9, which this gsql cannot read"),
        ("tabels = 1\n", r"unknown key `tabels` in catalog file"),
    ],
)
def test_catalog_file_invalid_entries(tmp_path: Path, text: str, pattern: str) -> None:
    path = write(tmp_path / "gsql.toml", text)
    with pytest.raises(CatalogError, match=pattern):
        load_catalog(path)


def test_default_catalog_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GSQL_CATALOG", "/env/catalog.toml")
    assert default_catalog_path("mine.toml") == Path("mine.toml")
    assert default_catalog_path() == Path("/env/catalog.toml")
    monkeypatch.delenv("GSQL_CATALOG")
    assert default_catalog_path() == Path("gsql.toml")


@pytest.mark.parametrize(
    "value",
    [
        'quote " and \\ backslash',
        "tab\there\nnewline\x01\x7f",
        "ünïcode ✓",
        1.5,
        -3,
        True,
        ["a", 2],
        {"k y": "v"},
    ],
)
def test_toml_values_round_trip(value: object) -> None:
    assert tomllib.loads(f"key = {format_value(value)}")["key"] == value


# --- Table functions ---


def test_table_function_csv_options_match_duckdb(tmp_path: Path) -> None:
    path = write(tmp_path / "semi.csv", "id;name\n1;'a;b'\n2;NA\n3;\n")
    options = {"delim": ";", "quote": "'", "nullstr": "NA", "header": True}
    source = source_from_table_function("read_csv", [str(path)], options)
    expected = duckdb.sql(
        f"select * from read_csv('{path}', delim=';', quote='''', nullstr='NA', header=true)"
    ).to_arrow_table()
    assert source.name == "semi"
    assert source.options == {
        "delimiter": ";",
        "quotechar": "'",
        "na_values": ["NA"],
        "keep_default_na": False,
        "header": 0,
    }
    assert source.read().to_pydict() == expected.to_pydict()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"sep": "|"}, {"delimiter": "|"}),
        ({"DELIM": "|"}, {"delimiter": "|"}),
        ({"header": False}, {"header": None}),
        ({"escape": '"'}, {"doublequote": True}),
        ({"escape": "\\"}, {"escapechar": "\\"}),
        ({"columns": {"a": "INT"}}, {"names": ["a"], "dtype": {"a": "INT"}}),
        ({"types": {"a": "INT"}}, {"dtype": {"a": "INT"}}),
        ({"names": ["z"]}, {"names": ["z"]}),
        ({"compression": "auto"}, {"compression": "infer"}),
        ({"compression": "none"}, {"compression": "none"}),
        ({"encoding": "latin-1"}, {"encoding": "latin-1"}),
        ({"skip": 2}, {"skiprows": 2}),
        ({"auto_detect": True}, {}),
    ],
)
def test_table_function_option_mapping(
    tmp_path: Path, kwargs: dict[str, object], expected: dict[str, object]
) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    assert source_from_table_function("read_csv_auto", [str(path)], kwargs).options == expected


def test_table_function_parquet(parquet_dir: Path) -> None:
    hive = source_from_table_function("read_parquet", [str(parquet_dir)], {})
    flat = source_from_table_function(
        "READ_PARQUET", [str(parquet_dir / "year=*" / "*.parquet")], {"hive_partitioning": False}
    )
    assert hive.name == "sales"
    assert hive.arrow_schema().names == ["amount", "year"]
    assert flat.name == "read_parquet"
    assert flat.arrow_schema().names == ["amount"]


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "error", "pattern"),
    [
        (
            "read_json",
            ["a.csv"],
            {},
            UnsupportedError,
            r"table function `read_json` is not supported",
        ),
        (
            "read_csv",
            ["a.csv"],
            {"sample_size": 10},
            UnsupportedError,
            r"option `sample_size` of `read_csv` is not supported",
        ),
        (
            "read_csv",
            ["a.csv"],
            {"hive_partitioning": True},
            UnsupportedError,
            r"option `hive_partitioning` of `read_csv`",
        ),
        (
            "read_parquet",
            ["a.csv"],
            {"union_by_name": True},
            UnsupportedError,
            r"option `union_by_name` of `read_parquet`",
        ),
        (
            "read_csv",
            ["a.csv"],
            {"types": ["INT"]},
            UnsupportedError,
            r"a list of `types` is not supported",
        ),
        (
            "read_csv",
            [],
            {},
            CatalogError,
            r"`read_csv` takes one positional argument, the path, and got 0",
        ),
        ("read_csv", [1], {}, CatalogError, r"invalid path 1 for `read_csv`"),
    ],
)
def test_table_function_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    args: list[object],
    kwargs: dict[str, object],
    error: type[Exception],
    pattern: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.csv", "a\n1\n")
    with pytest.raises(error, match=pattern):
        source_from_table_function(function, args, kwargs)


def test_source_dict_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    source = source_from_path("t", path, header=False, dtype={"column0": pa.int32()})
    data = source.to_dict()
    assert data == {
        "name": "t",
        "format": "csv",
        "paths": [str(path)],
        "options": {"header": False, "dtype": {"column0": "INT"}},
    }
    assert TableSource.from_dict(data).options == {"header": None, "dtype": {"column0": "INT"}}


def test_pyarrow_row_numbers_skip_blanks(tmp_path: Path) -> None:
    # The line mapping in the CSV reader relies on this pyarrow behaviour.
    path = write(tmp_path / "blank.csv", "a,b\n\n1,2,3\n")
    numbers: list[int | None] = []

    def handler(row: pacsv.InvalidRow) -> str:
        numbers.append(row.number)
        return "skip"

    read_options = pacsv.ReadOptions(use_threads=False)
    pacsv.read_csv(path, read_options, pacsv.ParseOptions(invalid_row_handler=handler))
    assert numbers == [2]
