"""The Flink SQL kernel: the one reader and writer of Flink SQL text for every service.

Pure (the standard library and pydantic only; `tests/contract/test_architecture.py` enforces it):

- `lexer`      the one lexer (Flink's lexical rules, positions, strict and lenient modes)
- `statements` the one statement splitter, statement kinds, SET reading, error positions
- `ddl`        the one CREATE TABLE reader (strict for requests, lenient and rewriting for jobs)
- `query`      INSERT targets, table references, lookup-join rewrite, created views/functions
- `quoting`    identifier and literal quoting, the request name rule
- `sqltypes`   the type system and cast rules
- `expr`, `expr_parse`  the scalar expression AST, its renderer and its parser
- `spec`       `RequestSpec`, the typed request every service reads
- `artifacts`  the layout of a job's artifacts (paths built only from a checked domain)
"""
