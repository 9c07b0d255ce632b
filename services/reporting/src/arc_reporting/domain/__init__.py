"""Reporting's rules, pure Python without I/O: as-of filtering, grade conversion, the
early-warning rule, heat-map shaping, distributions over time and colours."""
