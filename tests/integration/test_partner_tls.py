"""Partners reach their queues over AMQP with TLS: a RabbitMQ node of this test's own, configured
with the deployments' own listener stanza (ops/rabbitmq/partners-tls.conf, which compose mounts
and k8s/base/rabbitmq.yaml repeats) and the dev certificate, takes a partner's broker user over
TLS, verified against that certificate, and lets it read its own queue and nothing else."""
import json
import shutil
import ssl

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection

from services.notifications.broker import BrokerAdmin, declare_partner_queue
from tests.private_servers import ROOT, RUN_DIR, PrivateBroker, free_port

pytestmark = pytest.mark.integration

DEV_TLS = ROOT / "k8s/overlays/dev/partner-tls"
LISTENER = ROOT / "ops/rabbitmq/partners-tls.conf"


class TlsBroker(PrivateBroker):
    """A private node whose configuration is the partners' TLS stanza, on ports of its own. Its
    configuration lies beside the servers' own state: the node runs as the rabbitmq user, who
    cannot read pytest's private temporary directories."""

    def __init__(self):
        super().__init__()
        self.tls_port = free_port(start=self.port + 1)
        config_dir = self.config_dir = RUN_DIR / f"rabbitmq-{self.port}-conf.d"
        config_dir.mkdir(parents=True, exist_ok=True)
        stanza = LISTENER.read_text().replace("/etc/rabbitmq/tls", str(DEV_TLS)).replace(
            "listeners.ssl.default = 5671", f"listeners.ssl.default = {self.tls_port}")
        (config_dir / "20-partners-tls.conf").write_text(stanza)
        self.env["RABBITMQ_CONFIG_FILES"] = str(config_dir)


@pytest.fixture(scope="module")
def tls_broker():
    broker = TlsBroker()
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.config_dir)


def over_tls(broker, user, password):
    verified = {"ca_certs": str(DEV_TLS / "tls.crt"), "cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "localhost"}
    return Connection(f"amqp://{user}:{password}@localhost:{broker.tls_port}//", ssl=verified, connect_timeout=10)


def test_a_partner_reads_its_own_queue_over_tls_and_nothing_else(tls_broker):
    admin = BrokerAdmin(tls_broker.uri, api=tls_broker.api)
    queue, other = "partner-tls-probe", "partner-tls-other"
    for name in (queue, other):
        declare_partner_queue(tls_broker.uri, name)
    user = admin.reader_name(queue)
    password = admin.ensure_reader(user, queue)
    with Connection(tls_broker.uri) as connection:
        connection.Producer().publish({"id": "e1"}, exchange="", routing_key=queue)
    try:
        with over_tls(tls_broker, user, password) as partner:
            message = partner.channel().basic_get(queue, no_ack=True)
            assert json.loads(message.body) == {"id": "e1"}
        with over_tls(tls_broker, user, password) as partner:
            with pytest.raises(AccessRefused):
                partner.channel().basic_get(other, no_ack=True)
    finally:
        admin.delete_user(user)


def test_a_client_that_does_not_trust_the_certificate_is_refused(tls_broker):
    untrusting = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "localhost"}
    with Connection(f"amqp://guest:guest@localhost:{tls_broker.tls_port}//", ssl=untrusting,
                    connect_timeout=10) as stranger:
        with pytest.raises(ssl.SSLCertVerificationError):
            stranger.connect()
