# The processing image: prepline and its Polars engine, run as a non-root user.
# Build: docker build -t prepline:latest .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/prepline
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-compile . \
    && useradd --create-home --uid 1000 prepline \
    && mkdir -p /opt/ml/processing /opt/ml/output /opt/ml/config \
    && chown -R prepline:prepline /opt/ml

USER prepline
# Exec form: the Python process is PID 1 and receives StopProcessingJob's SIGTERM.
ENTRYPOINT ["python3", "-m", "prepline.processing"]
