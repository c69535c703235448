"""The gRPC gateway: the only public entrance. It authenticates, authorises and translates
gRPC calls into Nameko RPC; the services own every rule about data."""
