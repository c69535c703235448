"""The `civicgrid` command: demo tokens, calls to the gateway, demo data."""
import warnings

# Nameko 2.14 imports eventlet, which warns on import; these processes never run under it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
