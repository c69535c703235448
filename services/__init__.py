"""civicgrid's Nameko services and the small pieces they share (storage, events, metrics, access, errors)."""
