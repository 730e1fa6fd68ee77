-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d): the ledger and the SQL
-- sink get their own database on the same server as Airflow's metadata database.
CREATE DATABASE partnership_ads_ledger;
