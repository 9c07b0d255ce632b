"""What each screen and API shows, assembled from the read model and the domain rules. The
HTTP layer only renders these (as JSON or HTML)."""
