"""The catalog use cases, by subject; ``arc_catalog.application.Catalog`` has them all."""
