-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d).
-- One database per service: each service owns its events and read models.
CREATE DATABASE arc_catalog;
CREATE DATABASE arc_evidence;
CREATE DATABASE arc_mastery;
CREATE DATABASE arc_reporting;
-- The key vault (per-student keys sealing personal data; arc_platform.erasure), shared by all.
CREATE DATABASE arc_keyvault;
