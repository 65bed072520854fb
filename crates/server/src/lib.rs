//! The dstack server: HTTP API, database, pipelines and backends.
