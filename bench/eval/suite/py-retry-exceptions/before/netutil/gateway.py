"""The payment gateway client."""

from netutil.retry import retry


class Gateway:
    def __init__(self, transport):
        self.transport = transport

    @retry(times=3, delay=0.0)
    def charge(self, account: str, cents: int) -> str:
        return self.transport.post("/charge", {"account": account, "cents": cents})
