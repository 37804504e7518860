"""An aiosmtpd handler for notifier tests: a Maildir like aiosmtpd.handlers.Mailbox that refuses,
for good (550), every recipient whose address starts with "bounce"."""
from aiosmtpd.handlers import Mailbox


class RejectingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"
