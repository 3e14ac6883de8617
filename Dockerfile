# voltbridge web server: `voltbridge web` under gunicorn (threaded workers). Run `voltbridge worker`
# from the same image for the chain watchers, and `voltbridge db upgrade` once per release.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 INSTANCE_PATH=/var/lib/voltbridge
WORKDIR /app
RUN useradd --system --home /var/lib/voltbridge --create-home voltbridge
COPY setup.cfg pyproject.toml README.md ./
COPY bridge ./bridge
COPY gateway_core ./gateway_core
COPY storefront_adapters ./storefront_adapters
COPY templates ./templates
COPY migrations ./migrations
RUN pip install -e .
USER voltbridge
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["voltbridge", "web", "--host", "0.0.0.0", "--port", "8000"]
