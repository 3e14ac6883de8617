# voltbridge: `voltbridge web` (gunicorn, threaded workers) by default. Run `voltbridge worker` from the same
# image for the chain watchers and deliveries, and `voltbridge db upgrade` once per release (compose.yaml does
# all three). Builds from the repository alone: `docker build -t voltbridge .`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INSTANCE_PATH=/var/lib/voltbridge PROMETHEUS_MULTIPROC_DIR=/tmp/voltbridge-metrics
WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /var/lib/voltbridge --create-home voltbridge

# Packaging first, so a code change does not reinstall the dependencies.
COPY setup.cfg pyproject.toml README.md ./
COPY bridge ./bridge
COPY gateway_core ./gateway_core
COPY storefront_adapters ./storefront_adapters
RUN pip install -e .

# Everything the app reads at run time outside the Python packages (tests/unit/test_image.py checks the list).
COPY templates ./templates
COPY locales ./locales
COPY static ./static
COPY migrations ./migrations
COPY docs ./docs

USER voltbridge
VOLUME ["/var/lib/voltbridge"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["voltbridge", "web", "--host", "0.0.0.0", "--port", "8000"]
