"""The residents service: households in flats, residents and their service-population tags."""
