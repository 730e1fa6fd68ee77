# The project's Airflow image: the official apache/airflow image extended the documented way
# (https://airflow.apache.org/docs/docker-stack/build.html#extending-the-image): the pinned requirements are
# installed at build time, never at container start (_PIP_ADDITIONAL_REQUIREMENTS is for quick trials only).
# The version must equal the apache-airflow pin in requirements.txt (tests/topology/test_compose.py checks it).
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}
ARG AIRFLOW_VERSION

COPY --chown=airflow:0 requirements.txt /opt/airflow/project-requirements.txt
# Re-stating apache-airflow==<image version> keeps pip from up- or downgrading the Airflow already in the image.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/airflow/project-requirements.txt

# The project itself, installed editable from /opt/airflow/plugins: that registers the meta_graph connection
# type (an apache_airflow_provider entry point) while the code Airflow imports is the plugins/ folder that
# docker-compose.yaml mounts over it, so a code change needs a restart, not a rebuild.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/pyproject.toml
COPY --chown=airflow:0 plugins/partnership_ads /opt/airflow/plugins/partnership_ads
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

# dags/, plugins/ and include/ are mounted by docker-compose.yaml; include/ is imported from /opt/airflow.
ENV PYTHONPATH=/opt/airflow
