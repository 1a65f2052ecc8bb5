"""Real servers the tests start on loopback: Radicale, Dovecot, SMTP, a fault proxy, Chromium."""
