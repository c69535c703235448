"""The gRPC gateway: the only public entrance. It authenticates, authorises and translates
gRPC calls into Nameko RPC; the services own every rule about data."""
import warnings

# Nameko 2.14 imports eventlet, which warns on import; these processes never run under it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
