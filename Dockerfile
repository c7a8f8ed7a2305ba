# The pipeline services (producers, processors, sinks) for docker-compose and ECS.
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-install-project --extra stream
COPY daas ./daas
COPY producers ./producers
COPY reference ./reference
COPY stream_processors ./stream_processors
COPY sinks ./sinks
COPY schemas ./schemas
COPY warehouse ./warehouse
RUN uv sync --frozen --extra stream && useradd --system --uid 10001 daas
USER daas
ENV PATH=/opt/venv/bin:$PATH
ENTRYPOINT ["daas"]
