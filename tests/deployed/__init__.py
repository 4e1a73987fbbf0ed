"""The deployed shape: production settings, several processes, PostgreSQL and Redis."""
