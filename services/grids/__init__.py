"""The grids service: the hierarchy from city down to flats."""
