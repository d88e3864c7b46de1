"""The catalog: the registered tables, by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gsql.catalogs.source import TableSource
from gsql.errors import BindError, CatalogError, suggest

__all__ = ["Catalog"]


class Catalog:
    """An ordered mapping from table name to `TableSource`.

    Lookups ignore case, as unquoted SQL identifiers do in most dialects, while `names()` and
    each source keep the case in which the table was registered. Two names that differ only in
    case are the same table.
    """

    def __init__(self, sources: Iterable[TableSource] = ()) -> None:
        self._sources: dict[str, TableSource] = {}
        for source in sources:
            self.register(source)

    def register(self, source: TableSource, replace: bool = False) -> None:
        """Add a table, or replace the one of the same name when `replace` is true.

        A replaced table keeps its position in the order of tables.

        Raises:
            CatalogError: a table of that name exists and `replace` is false.
        """
        key = source.name.lower()
        existing = self._sources.get(key)
        if existing is not None and not replace:
            raise CatalogError(
                f"table `{existing.name}` is already registered; drop it first or register "
                "with replace"
            )
        self._sources[key] = source

    def drop(self, name: str) -> None:
        """Remove a table.

        Raises:
            BindError: no table has that name.
        """
        self.get(name)
        del self._sources[name.lower()]

    def get(self, name: str) -> TableSource:
        """Return the table of that name, in any case.

        Raises:
            BindError: no table has that name; the message suggests the closest name.
        """
        source = self._sources.get(name.lower())
        if source is None:
            example = f"FROM 'data/{name}.csv'"
            suggestion = suggest(name, self.names())
            if suggestion:
                raise BindError(
                    f"unknown table `{name}`{suggestion} To add a table, register a file or "
                    f"name the file in the query, as in {example}"
                )
            raise BindError(
                f"unknown table `{name}`; register a file as table `{name}`, or name the file "
                f"in the query, as in {example}"
            )
        return source

    def names(self) -> list[str]:
        """Return the table names in registration order, in their registered case."""
        return [source.name for source in self._sources.values()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._sources

    def __iter__(self) -> Iterator[TableSource]:
        return iter(list(self._sources.values()))

    def __len__(self) -> int:
        return len(self._sources)

    def __repr__(self) -> str:
        return f"Catalog({self.names()!r})"
