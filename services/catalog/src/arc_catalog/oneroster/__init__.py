"""OneRoster 1.1 / 1.2 CSV bulk sets: read and check (pure), then plan an import."""
