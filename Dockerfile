# Airflow image with leadflow's locked dependencies (dbt, cosmos, GX…), for docker-compose.yml.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.lock /tmp/requirements.lock
# the lock pins apache-airflow 3.3.2 too, so the base image's Airflow is kept as it is
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock

ENV LEADFLOW_HOME=/opt/leadflow \
    PYTHONPATH=/opt/leadflow/plugins
WORKDIR /opt/leadflow
