from pg_cluster import pg_url, postgres  # noqa: F401  (fixtures)
