"""The project's SQL runner: submits a generated job's SQL to Flink, and nothing else.

`python -m services.runner --sql FILE --digest sha256:...` reads the job's SQL file with the
kernel (`services.flinksql`), refuses it unless its statement digest is the validated one,
refuses every statement the generator never emits (and hints), resolves `${secret:NAME}` only
where a CREATE TABLE's WITH option value is exactly that and NAME is declared, runs the DDL and
submits the INSERTs as one statement set. The same code runs inside Flink (application mode,
`org.apache.flink.client.python.PythonDriver -pym services.runner`) and against a session
cluster (`--remote HOST:PORT`, what the router's flink-session deployer runs).

- `domain`   the pure checks, secret resolution and run plan (the standard library and the
             kernel only; the router's deployers share it)
- `job`      the PyFlink part: a TableEnvironment, the SETs, the DDL, one statement set
- `__main__` the command line: arguments, exit codes, one JSON line on stdout

docs/generated-job.md ("The SQL runner") documents what it checks and refuses.
"""
