# DoseLedger: one image, two services (deploy/compose.yaml runs both):
#   web:  gunicorn service.wsgi:app      (the default command; settings in /app/gunicorn.conf.py)
#   scp:  doseledger scp                 (the DICOM Storage SCP, the second entry point)
# Both need MONGODB_URI (several processes cannot share the embedded database).
#
#   docker build -t doseledger .
#   docker run -p 8080:8080 -e MONGODB_URI=mongodb://mongo:27017/ -e DOSELEDGER_TRUSTED_HOSTS=dose.example.org doseledger
#   docker run -p 11112:11112 -e MONGODB_URI=mongodb://mongo:27017/ doseledger doseledger scp
# DOSELEDGER_TRUSTED_HOSTS: the names users reach the service by (other Host headers get 400).
#
# The base image is pinned by its exact tag; to pin its digest as well, replace the FROM line with
# python:3.11.13-slim-bookworm@sha256:<digest> (`docker buildx imagetools inspect python:3.11.13-slim-bookworm`).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/doseledger-metrics \
    DOSELEDGER_DATA_DIR=/var/lib/doseledger/db

WORKDIR /app

# Every package, and the build backend, at the version and hashes of the lock (make lock), nothing else.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
COPY scripts ./scripts
COPY deploy/gunicorn.conf.py ./gunicorn.conf.py
# The project itself, built with the locked setuptools: no index, no dependency resolved here.
RUN pip install --no-deps --no-build-isolation --no-index . \
    && useradd --system --uid 10001 --home-dir /var/lib/doseledger --shell /usr/sbin/nologin doseledger \
    && mkdir -p /var/lib/doseledger \
    && chown doseledger:doseledger /var/lib/doseledger

# The data folder's parent holds what DoseLedger makes at first start: the session secret, the patient-key
# secret and the first admin's password (mount a volume and back it up: README, Production; or set
# DOSELEDGER_SECRET_KEY and DOSELEDGER_PATIENT_KEY_SECRET).
VOLUME ["/var/lib/doseledger"]
USER doseledger
EXPOSE 8080 11112
CMD ["gunicorn", "service.wsgi:app"]
