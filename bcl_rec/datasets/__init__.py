"""The dataset registry: one YAML file per public dataset (source, checksums, format)."""
