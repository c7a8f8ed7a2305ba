# The pipeline services (producers, processor, surveillance, sinks, topic set-up) for
# docker compose and ECS. ENTRYPOINT is the `daas` command; each service's command is
# one of its subcommands (docker-compose.yaml; tests/deploy checks them against the CLI).
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-install-project --no-dev --extra stream
# Every package of the wheel ([tool.hatch.build.targets.wheel] in pyproject.toml).
COPY console ./console
COPY daas ./daas
COPY producers ./producers
COPY reference ./reference
COPY stream_processors ./stream_processors
COPY sinks ./sinks
COPY schemas ./schemas
COPY warehouse ./warehouse
# A non-root user, and the one folder it writes: DAAS_RUNTIME_DIR (state, checkpoints).
RUN uv sync --frozen --no-dev --extra stream \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/daas daas \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/daas
USER 10001:10001
ENV PATH=/opt/venv/bin:$PATH DAAS_RUNTIME_DIR=/var/lib/daas
ENTRYPOINT ["daas"]
