FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN python scripts/compile_messages.py \
    && DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home rto && chown -R rto /app
USER rto
EXPOSE 8000
CMD ["gunicorn", "rto_booking.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
