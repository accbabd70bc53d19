from typing import Any


def strip_trailing_slashes(
    endpoints: list[tuple[Any, ...]], **kwargs: Any
) -> list[tuple[Any, ...]]:
    """Our routes end in an optional `/?`; the schema shows each path in its canonical form,
    without the slash, as the contract writes it."""
    result = []
    for path, path_regex, method, callback in endpoints:
        result.append((path.rstrip("/") or "/", path_regex, method, callback))
    return result
