"""1EdTech CASE 1.0 packages: read (leniently, with precise errors), plan an import, export."""
