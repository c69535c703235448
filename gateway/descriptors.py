"""What the reflection service reads descriptors from."""
from google.protobuf import descriptor_pool


class MethodResolvingPool:
    """The default descriptor pool, also answering for a method's full name: ghz and grpcurl ask
    reflection for the file of `package.Service.Method`, and the pool (upb) finds services,
    messages and enums by name, not methods ("Symbol not found")."""

    def __init__(self, pool=None):
        self.pool = pool or descriptor_pool.Default()

    def FindFileContainingSymbol(self, symbol):  # noqa: N802 (the pool's interface)
        try:
            return self.pool.FindFileContainingSymbol(symbol)
        except KeyError:
            service_name, _, method_name = symbol.rpartition(".")
            try:
                service = self.pool.FindServiceByName(service_name)
            except KeyError:
                service = None
            if service is None or method_name not in service.methods_by_name:
                raise
            return service.file

    def __getattr__(self, name):
        return getattr(self.pool, name)
