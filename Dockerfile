FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# The build needs a secret key to load settings; it is not kept in the image (runtime secrets
# come from the environment only).
RUN python scripts/compile_messages.py \
    && DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home rto && chown -R rto /app
USER rto
EXPOSE 8000
# One JSON line per request comes from rto_booking.middleware (with the request id), so
# gunicorn's own access log stays off.
CMD ["gunicorn", "rto_booking.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"
