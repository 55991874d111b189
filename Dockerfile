# DoseLedger under gunicorn against an external MongoDB.
#   docker build -t doseledger .
#   docker run -p 8080:8080 -e MONGODB_URI=mongodb://mongo:27017/ -e DOSELEDGER_TRUSTED_HOSTS=dose.example.org doseledger
# DOSELEDGER_TRUSTED_HOSTS: the names users reach the service by (other Host headers get 400).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
COPY scripts ./scripts
RUN pip install . "gunicorn>=22,<24" \
    && useradd --system --uid 10001 --no-create-home doseledger \
    && mkdir -p /app/var && chown doseledger /app/var
# /app/var keeps the session secret, the patient-key secret and the first admin's password (mount a volume and
# back it up, or set DOSELEDGER_SECRET_KEY and DOSELEDGER_PATIENT_KEY_SECRET)
VOLUME /app/var

USER doseledger
EXPOSE 8080
# MONGODB_URI must be given at run time; service.wsgi refuses to start without it.
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "2", "--threads", "4", "--timeout", "120", \
     "--access-logfile", "-", "service.wsgi:app"]
